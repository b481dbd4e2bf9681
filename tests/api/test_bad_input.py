"""Bad input of every kind gets a problem+json 4xx and changes nothing."""
import pytest

from tests.api.helpers import assert_problem, create_model

DEEP = "[" * 5000 + "]" * 5000
CASES = [
    # (method, path, raw body or json, status, error field)
    ("post", "/api/v1/models", b"{not json", 400, None),
    ("post", "/api/v1/models", b"", 422, "name"),
    ("post", "/api/v1/models", DEEP.encode(), 400, None),
    ("post", "/api/v1/models", {"name": "x", "tags": {"a": {"b": {"c": [[[[]]]]}}}}, 422, "tags"),
    ("post", "/api/v1/models", [], 422, None),
    ("post", "/api/v1/models", {"name": 5}, 422, "name"),
    ("post", "/api/v1/models", {"name": "ok", "colour": "red"}, 422, "colour"),
    ("post", "/api/v1/models", {"name": "../etc"}, 422, "name"),
    ("post", "/api/v1/models", {"name": "-leading"}, 422, "name"),
    ("post", "/api/v1/models", {"name": "x" * 129}, 422, "name"),
    ("post", "/api/v1/models", {"name": "ünïcode"}, 422, "name"),
    ("post", "/api/v1/models", {"name": "ok", "tags": {"bad key!": "v"}}, 422, "tags"),
    ("post", "/api/v1/models", {"name": "ok", "description": "x" * 10_001}, 422, "description"),
    ("post", "/api/v1/models/base/versions", {"parent_version": 10**30}, 422, "parent_version"),
    ("post", "/api/v1/models/base/versions", {"parent_version": "1"}, 422, "parent_version"),
    ("post", "/api/v1/models/base/versions", {"run": {"metrics": {"acc": "0.9"}}}, 422, "run"),
    ("post", "/api/v1/models/base/versions", {"run": {"metrics": {"acc": True}}}, 422, "run"),
    ("post", "/api/v1/models/base/versions", b'{"run": {"metrics": {"acc": 1e999}}}', 422, "run"),
    ("post", "/api/v1/models/base/versions", b'{"run": {"metrics": {"acc": NaN}}}', 422, "run"),
    ("post", "/api/v1/models/base/versions", {"run": {"params": {"p": [1, 2]}}}, 422, "run"),
    ("post", "/api/v1/models/base/versions", {"run": {"started_at": "yesterday"}}, 422, "run"),
    ("post", "/api/v1/models/base/versions", {"run": {"started_at": "2026-01-01T00:00:00"}}, 422,
     "run"),
    ("post", "/api/v1/models/base/versions", {"run": {"dataset": {}}}, 422, "run"),
    ("post", "/api/v1/models/base/versions", {"run": {"unknown": 1}}, 422, "run"),
    ("post", "/api/v1/models/base/versions/1/metrics", {"metrics": {}}, 422, "metrics"),
    ("post", "/api/v1/models/base/versions/1/metrics", {"metrics": {"a": 1}, "source": "x"}, 422,
     "source"),
    ("post", "/api/v1/models/base/versions/1/stage", {"stage": "production"}, 422, "stage"),
    ("patch", "/api/v1/models/base", {"name": "renamed"}, 422, "name"),
    ("get", "/api/v1/models?limit=abc", None, 422, "limit"),
    ("get", "/api/v1/models?limit=99999999999999999999999", None, 422, "limit"),
    ("get", "/api/v1/versions?filter=metrics.a > 'x'", None, 422, None),
    ("get", "/api/v1/versions?filter=" + "(" * 10, None, 422, None),
    ("get", "/api/v1/events?after=-1", None, 422, "after"),
    ("get", "/api/v1/events?wait=nan", None, 422, "wait"),
    ("get", "/api/v1/nowhere", None, 404, None),
    ("get", "/api/v1/models?q=a%00b", None, 400, None),
    ("get", "/api/v1/models?tag=a:%00", None, 400, None),
    ("post", "/api/v1/models", b'{"name": "ok", "description": "a\\u0000b"}', 400, None),
    ("post", "/api/v1/models/base/versions", {"run": {"params": {"p": "x\u0000"}}}, 400, None),
    ("put", "/api/v1/models", {}, 405, None),
    ("post", "/api/v1/models", b"{}" + b" " * 2_000_000, 413, None),
]


@pytest.mark.parametrize("method, path, body, status, field", CASES,
                         ids=[f"{c[0]} {c[1][:40]} {str(c[2])[:30]}" for c in CASES])
def test_bad_input_gets_a_problem(client, method, path, body, status, field):
    create_model(client, "base")
    client.post("/api/v1/models/base/versions", json={})
    before = client.get("/api/v1/events").json["last_seq"]
    send = getattr(client, method)
    if isinstance(body, bytes):
        response = send(path, data=body, content_type="application/json")
    elif body is None:
        response = send(path)
    else:
        response = send(path, json=body)
    problem = assert_problem(response, status)
    if field:
        assert field in problem["errors"], problem
    assert client.get("/api/v1/events").json["last_seq"] == before
    assert client.get("/api/v1/models/base").json["latest_version"] == 1


def test_idempotency_key_must_be_sane(client):
    create_model(client, "base")
    response = client.post("/api/v1/models/base/versions", json={},
                           headers={"Idempotency-Key": "x" * 300})
    assert_problem(response, 422)
