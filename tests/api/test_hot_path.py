"""The stage look-up hot path answers exactly as the Flask route does, and leaves every other
case to it."""
from __future__ import annotations

import datetime as dt
import uuid

import psycopg2
import pytest
from werkzeug.test import Client as WsgiClient
from werkzeug.wrappers import Response

from registry.api.guards import REQUEST_ID
from registry.app import create_app
from registry.db import database
from registry.models import ApiToken

ADMIN = "hot-path-admin-token-0123456789abcdefghij"


def lookups_answered_fast(client) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("modelyard_stage_lookup_seconds_count"))


@pytest.fixture(params=[True, False], ids=["auth", "no-auth"])
def paths(request, backend):
    """(hot path, Flask route only, headers, app) on a model with a production holder with
    files that also holds the declared stage canary, and a staging holder without files."""
    auth = request.param
    app = create_app({**backend, "auth": {"enabled": auth, "admin_token": ADMIN}}, environ={})
    headers = {"Authorization": f"Bearer {ADMIN}"} if auth else {}
    client = app.test_client()
    client.post("/api/v1/models", json={"name": "fraud"}, headers=headers)
    for _ in range(2):
        client.post("/api/v1/models/fraud/versions", json={"source_uri": "s3://b/m"},
                    headers=headers)
    client.put("/api/v1/models/fraud/versions/1/files/model.bin", data=b"weights",
               headers=headers)
    client.put("/api/v1/models/fraud/versions/1/files/a/config.json", data=b"{}", headers=headers)
    for number in (1, 2):
        client.post(f"/api/v1/models/fraud/versions/{number}/finalize", headers=headers)
    assert client.post("/api/v1/models/fraud/promote", json={"version": 1},
                       headers=headers).status_code == 200
    assert client.post("/api/v1/models/fraud/promote", json={"version": 2, "stage": "staging"},
                       headers=headers).status_code == 200
    assert client.post("/api/v1/models/fraud/stages", json={"name": "canary"},
                       headers=headers).status_code == 201
    assert client.post("/api/v1/models/fraud/promote", json={"version": 1, "stage": "canary"},
                       headers=headers).status_code == 200
    return (WsgiClient(app, Response), WsgiClient(app.wsgi_app.next, Response), headers, app)


def _same(fast, full) -> None:
    """Same status, body and headers; a request id the caller did not give (validly) is a
    fresh UUID on each."""
    assert (fast.status, fast.get_data()) == (full.status, full.get_data())
    sent = fast.request.headers.get("X-Request-Id", "")
    if not REQUEST_ID.match(sent):
        for answer in (fast, full):
            assert uuid.UUID(answer.headers["X-Request-Id"])
    ignored = set() if REQUEST_ID.match(sent) else {"X-Request-Id"}
    assert {k: v for k, v in fast.headers.items() if k not in ignored} == \
        {k: v for k, v in full.headers.items() if k not in ignored}


@pytest.mark.parametrize("method, path, extra", [
    ("GET", "/api/v1/models/fraud/production", {}),
    ("GET", "/api/v1/models/fraud/stages/production", {"X-Request-Id": "deploy-42"}),
    ("GET", "/api/v1/models/fraud/stages/staging", {}),
    ("GET", "/api/v1/models/fraud/stages/canary", {}),
    ("HEAD", "/api/v1/models/fraud/stages/canary", {"X-Request-Id": "canary-7"}),
    ("GET", "/api/v1/models/fraud/stages/canary", {"If-None-Match": "*"}),
    ("HEAD", "/api/v1/models/fraud/production", {}),
    ("GET", "/api/v1/models/fraud/production", {"If-None-Match": "*"}),
    ("GET", "/api/v1/models/fraud/production", {"If-None-Match": '"0.0.0"'}),
    ("GET", "/api/v1/models/fraud/production", {"X-Request-Id": "bad id with spaces"}),
])
def test_the_hot_path_answers_byte_for_byte_as_the_route(paths, method, path, extra):
    fast, full, headers, app = paths
    before = lookups_answered_fast(app.test_client())
    answers = [client.open(path, method=method, headers={**headers, **extra})
               for client in (fast, full)]
    _same(*answers)
    assert answers[0].status_code in (200, 304)
    assert lookups_answered_fast(app.test_client()) == before + 1


def test_a_matching_etag_gives_304_on_both_paths(paths):
    fast, full, headers, _ = paths
    etag = fast.get("/api/v1/models/fraud/production", headers=headers).headers["ETag"]
    for client in (fast, full):
        answer = client.get("/api/v1/models/fraud/production",
                            headers={**headers, "If-None-Match": etag})
        assert answer.status_code == 304 and answer.get_data() == b""
    _same(*[client.get("/api/v1/models/fraud/production",
                       headers={**headers, "If-None-Match": etag, "X-Request-Id": "r1"})
            for client in (fast, full)])


@pytest.mark.parametrize("path, extra, status", [
    ("/api/v1/models/nope/production", {}, 404),
    ("/api/v1/models/fraud/stages/archived", {}, 404),
    ("/api/v1/models/fraud/stages/shadow", {}, 404),
    ("/api/v1/models/fraud/stages/Canary", {}, 404),
    ("/api/v1/models/fraud/production?x=1", {}, 200),
    ("/api/v1/models/fraud/production/", {}, 404),
])
def test_everything_else_is_the_routes_answer(paths, path, extra, status):
    fast, full, headers, app = paths
    before = lookups_answered_fast(app.test_client())
    answer = fast.get(path, headers={**headers, **extra, "X-Request-Id": "r2"})
    reference = full.get(path, headers={**headers, **extra, "X-Request-Id": "r2"})
    assert answer.status_code == status
    _same(answer, reference)
    assert lookups_answered_fast(app.test_client()) == before


def test_tokens_are_checked_on_every_look_up(backend):
    app = create_app({**backend, "auth": {"enabled": True, "admin_token": ADMIN}}, environ={})
    client = app.test_client()
    admin = {"Authorization": f"Bearer {ADMIN}"}
    client.post("/api/v1/models", json={"name": "m"}, headers=admin)
    client.post("/api/v1/models/m/versions", json={"source_uri": "s3://b"}, headers=admin)
    client.post("/api/v1/models/m/versions/1/finalize", headers=admin)
    client.post("/api/v1/models/m/promote", json={"version": 1}, headers=admin)
    viewer = client.post("/api/v1/tokens", json={"name": "deployer-bot", "role": "viewer"},
                         headers=admin).json
    as_viewer = {"Authorization": f"Bearer {viewer['token']}"}
    assert client.get("/api/v1/models/m/production").status_code == 401
    assert client.get("/api/v1/models/m/production",
                      headers={"Authorization": "Bearer myd_wrong"}).status_code == 401
    assert client.get("/api/v1/models/m/production", headers=as_viewer).status_code == 200
    client.delete(f"/api/v1/tokens/{viewer['id']}", headers=admin)
    assert client.get("/api/v1/models/m/production", headers=as_viewer).status_code == 401

    # a token not seen for over a minute takes the full path, which records its use
    with database.connection_context():
        ApiToken.update(last_used_at=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)).where(
            ApiToken.name.startswith("admin (MODELYARD_ADMIN_TOKEN")).execute()
    before = lookups_answered_fast(client)
    assert client.get("/api/v1/models/m/production", headers=admin).status_code == 200
    assert lookups_answered_fast(client) == before
    with database.connection_context():
        seen = ApiToken.get(ApiToken.name.startswith("admin (MODELYARD_ADMIN_TOKEN")).last_used_at
    assert seen > dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    assert client.get("/api/v1/models/m/production", headers=admin).status_code == 200
    assert lookups_answered_fast(client) == before + 1


def test_a_declared_stages_etag_gives_304_on_both_paths_until_it_moves(paths):
    fast, full, headers, app = paths
    path = "/api/v1/models/fraud/stages/canary"
    etag = fast.get(path, headers=headers).headers["ETag"]
    for client in (fast, full):
        assert client.get(path, headers={**headers, "If-None-Match": etag}).status_code == 304
    app.test_client().post("/api/v1/models/fraud/promote", json={"version": 2, "stage": "canary"},
                           headers=headers)
    moved = [client.get(path, headers={**headers, "If-None-Match": etag, "X-Request-Id": "r3"})
             for client in (fast, full)]
    _same(*moved)
    assert moved[0].status_code == 200 and moved[0].json["version"] == 2


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_request_after_postgresql_dropped_the_idle_pool_still_answers(paths, monkeypatch):
    """The pool asks PostgreSQL whether a connection lives only when it sat idle a while (a
    look-up is one round trip, not two); one the server dropped meanwhile is replaced."""
    hot, _route, headers, _app = paths
    assert hot.get("/api/v1/models/fraud/production", headers=headers).status_code == 200
    pool = database.obj
    assert pool._connections, "the look-up returned its connection to the pool"
    with psycopg2.connect(_dsn(pool)) as admin:
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    admin.close()
    monkeypatch.setattr(type(pool), "PING_IDLE_S", 0.0)  # as if it sat idle for a while
    answer = hot.get("/api/v1/models/fraud/versions/1", headers=headers)  # one query, no retry
    assert answer.status_code == 200 and answer.get_json()["version"] == 1


def _dsn(pool) -> str:
    params = pool.connect_params
    return (f"dbname={pool.database} host={params.get('host') or '127.0.0.1'} "
            f"port={params.get('port') or 5432} user={params.get('user') or 'postgres'}")
