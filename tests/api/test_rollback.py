"""One-call rollback, the stage holder hot path, and stage history over HTTP."""
import datetime as dt
import threading

import pytest

from registry.app import create_app
from tests.api.helpers import assert_problem, create_model, promote, ready_version


def rollback(client, model="fraud", headers=None, **body):
    return client.post(f"/api/v1/models/{model}/rollback", json=body, headers=headers or {})


def _stage_of(client, version):
    body = client.get(f"/api/v1/models/fraud/versions/{version}").json
    return body["stage"], body["rolled_back"]


def _promote_three(client):
    """Versions 1, 2, 3 promoted in turn: 3 is in production."""
    create_model(client)
    for number in (1, 2, 3):
        ready_version(client)
        assert promote(client, version=number).status_code == 200
    return client


@pytest.fixture
def three_promoted(client):
    return _promote_three(client)


def test_rollback_returns_to_the_previous_holder_and_marks_the_bad_one(three_promoted):
    client = three_promoted
    response = rollback(client, reason="latency spike")
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["version"], body["rolled_back_version"], body["stage"]) == (2, 3, "production")
    assert _stage_of(client, 3) == ("archived", True)
    assert _stage_of(client, 2) == ("production", False)
    move = client.get("/api/v1/models/fraud/history").json["items"][0]
    assert (move["action"], move["from_version"], move["to_version"]) == ("rollback", 3, 2)
    assert move["reason"] == "latency spike" and move["actor"] == "anonymous"
    event = client.get("/api/v1/events?type=model.rolled_back").json["items"][0]
    assert event["seq"] == body["event_seq"] and event["version"] == 2
    assert event["data"]["rolled_back_version"] == 3 and event["data"]["stage"] == "production"


def test_a_version_rolled_back_from_is_never_chosen_again(three_promoted):
    client = three_promoted
    assert rollback(client).json["version"] == 2       # 3 -> 2, 3 marked
    assert rollback(client).json["version"] == 1       # 2 -> 1, 2 marked
    body = assert_problem(rollback(client), 409)       # nothing older qualifies
    assert "rolled back from" in body["detail"] and body["type"].endswith("no-rollback-target")
    assert promote(client, version=3).status_code == 200  # an explicit promotion clears the mark
    assert _stage_of(client, 3) == ("production", False)
    assert rollback(client).json["version"] == 1


def test_rollback_to_an_explicit_version(three_promoted):
    client = three_promoted
    assert rollback(client, to_version=1).json["version"] == 1
    assert_problem(rollback(client, to_version=1), 409)   # already there
    ready_version(client)
    body = assert_problem(rollback(client, to_version=4), 409)
    assert "never held production" in body["detail"]
    assert_problem(rollback(client, to_version=99), 404)


def test_rollback_with_nothing_to_roll_back_from_is_409(client):
    create_model(client)
    body = assert_problem(rollback(client), 409)
    assert "nothing to roll back from" in body["detail"]
    ready_version(client)
    promote(client, version=1)
    assert "no earlier production version" in assert_problem(rollback(client), 409)["detail"]
    assert_problem(rollback(client, model="nope"), 404)


def test_a_target_with_missing_files_is_skipped(backend):
    app = create_app(backend, environ={})
    client = app.test_client()
    create_model(client)
    for number, content in ((1, b"one"), (2, b"two"), (3, b"three")):
        client.post("/api/v1/models/fraud/versions", json={})
        client.put(f"/api/v1/models/fraud/versions/{number}/files/model.bin", data=content)
        client.post(f"/api/v1/models/fraud/versions/{number}/finalize")
        promote(client, version=number)
    store = app.extensions["modelyard_store"]
    files = client.get("/api/v1/models/fraud/versions/2/files").json
    store.delete(files[0]["sha256"])
    body = rollback(client).json
    assert body["version"] == 1
    assert "files missing" in assert_problem(rollback(client, to_version=2), 409)["detail"]


def test_rollback_dry_run_changes_nothing(three_promoted):
    client = three_promoted
    before = client.get("/api/v1/events").json["last_seq"]
    answer = rollback(client, dry_run=True).json
    assert (answer["version"], answer["dry_run"], answer["event_seq"]) == (2, True, None)
    assert _stage_of(client, 3) == ("production", False)
    assert client.get("/api/v1/events").json["last_seq"] == before


def test_rollback_compare_and_set(three_promoted):
    client = three_promoted
    assert assert_problem(rollback(client, expected_current_version=2), 412)[
        "current_version"] == 3
    etag = client.get("/api/v1/models/fraud/production").headers["ETag"]
    assert rollback(client, headers={"If-Match": etag}).status_code == 200
    assert_problem(rollback(client, headers={"If-Match": etag}), 412)


def test_rollback_works_for_staging(client):
    create_model(client)
    for number in (1, 2):
        ready_version(client)
        promote(client, version=number, stage="staging")
    body = rollback(client, stage="staging").json
    assert (body["version"], body["rolled_back_version"], body["stage"]) == (1, 2, "staging")
    assert client.get("/api/v1/models/fraud/stages/staging").json["version"] == 1


def test_concurrent_rollbacks_with_one_key_make_one_change(app):
    client = _promote_three(app.test_client())
    answers = _race(app, [{"Idempotency-Key": "incident-9"}] * 2, [{}, {}])
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json == answers[1].json and answers[0].json["version"] == 2
    assert len(client.get("/api/v1/events?type=model.rolled_back").json["items"]) == 1


def test_concurrent_rollbacks_with_one_expected_version_give_one_200_and_one_412(app):
    client = _promote_three(app.test_client())
    answers = _race(app, [{"Idempotency-Key": "a"}, {"Idempotency-Key": "b"}],
                    [{"expected_current_version": 3}] * 2)
    assert sorted(a.status_code for a in answers) == [200, 412]
    assert client.get("/api/v1/models/fraud/production").json["version"] == 2
    assert len(client.get("/api/v1/events?type=model.rolled_back").json["items"]) == 1


def _race(app, headers, bodies):
    barrier, answers = threading.Barrier(len(bodies)), [None] * len(bodies)

    def call(index):
        own = app.test_client()
        barrier.wait()
        answers[index] = rollback(own, headers=headers[index], **bodies[index])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_the_production_holder_with_files_and_etag(backend):
    client = create_app(backend, environ={}).test_client()
    create_model(client)
    client.post("/api/v1/models/fraud/versions", json={})
    client.put("/api/v1/models/fraud/versions/1/files/weights/model%20a.bin", data=b"w")
    client.post("/api/v1/models/fraud/versions/1/finalize")
    assert_problem(client.get("/api/v1/models/fraud/production"), 404)
    promote(client, version=1)
    response = client.get("/api/v1/models/fraud/production")
    body, etag = response.json, response.headers["ETag"]
    assert (body["version"], body["stage"], body["model"]) == (1, "production", "fraud")
    assert body["files"][0]["path"] == "weights/model a.bin" and body["files"][0]["size"] == 1
    assert client.get(body["files"][0]["url"]).data == b"w"
    assert client.get("/api/v1/models/fraud/stages/production").json == body
    cached = client.get("/api/v1/models/fraud/production", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.headers["ETag"] == etag and not cached.data
    assert etag.startswith('"') and not etag.startswith('W/')
    assert client.get("/api/v1/models/fraud/stages/archived").status_code == 404


def test_the_etag_and_revision_change_with_every_move(three_promoted):
    client = three_promoted
    first = client.get("/api/v1/models/fraud/production")
    rollback(client)
    second = client.get("/api/v1/models/fraud/production",
                        headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200 and second.headers["ETag"] != first.headers["ETag"]
    assert second.json["revision"] > first.json["revision"]


def test_history_at_an_instant(three_promoted):
    client = three_promoted
    moves = client.get("/api/v1/models/fraud/history?stage=production").json["items"]
    ats = {m["to_version"]: m["at"] for m in moves}
    at = client.get("/api/v1/models/fraud/history", query_string={"at": ats[2]}).json
    assert (at["version"], at["since"], at["items"][0]["to_version"]) == (2, ats[2], 2)
    before = (dt.datetime.fromisoformat(ats[1]) - dt.timedelta(seconds=1)).isoformat()
    assert client.get("/api/v1/models/fraud/history", query_string={"at": before}).json[
        "version"] is None
    assert client.get("/api/v1/models/fraud/history?stage=staging&at=2999-01-01T00:00:00Z").json[
        "version"] is None
    assert_problem(client.get("/api/v1/models/fraud/history?at=yesterday"), 422)
    assert_problem(client.get("/api/v1/models/fraud/history?at=2026-01-01T00:00:00"), 422)


def test_history_pages_newest_first(three_promoted):
    client = three_promoted
    page = client.get("/api/v1/models/fraud/history?limit=2").json
    assert [m["to_version"] for m in page["items"]] == [3, 2]
    rest = client.get(f"/api/v1/models/fraud/history?cursor={page['next_cursor']}").json
    assert [m["to_version"] for m in rest["items"]] == [1] and rest["next_cursor"] is None


@pytest.mark.parametrize("at", ["0914-02-17T17:38:44-14:20", "0001-01-01T00:00:00+14:00",
                                "9999-12-31T23:59:59-14:00"])
def test_history_at_refuses_instants_it_cannot_represent(client, at):
    """Found by schemathesis: year 914 came back as "914-..." (not RFC 3339)."""
    create_model(client)
    body = assert_problem(client.get("/api/v1/models/fraud/history", query_string={"at": at}),
                          422)
    assert "at" in body["errors"]


def test_early_instants_are_written_with_four_digit_years():
    from registry.services.timefmt import rfc3339
    assert rfc3339(dt.datetime(1914, 2, 18, tzinfo=dt.timezone.utc)) == "1914-02-18T00:00:00.000000Z"
    assert rfc3339(dt.datetime(914, 2, 18, tzinfo=dt.timezone.utc)) == "0914-02-18T00:00:00.000000Z"


def test_a_target_older_than_the_newest_moves_is_still_found(client):
    """Rollback reads the newest 256 moves first; a target behind them is found in the rest of
    the history."""
    create_model(client)
    for version in (1, 2, 3):
        ready_version(client)
        assert promote(client, version=version).status_code == 200
    for _ in range(300):  # version 3 leaves production and takes it again: 300 moves to 3
        assert client.post("/api/v1/models/fraud/versions/3/stage",
                           json={"stage": "none"}).status_code == 200
        assert promote(client, version=3).status_code == 200
    answer = client.post("/api/v1/models/fraud/rollback", json={})
    assert answer.status_code == 200, answer.json
    assert (answer.json["version"], answer.json["rolled_back_version"]) == (2, 3)
