from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.api.helpers import assert_problem, create_model, create_version

RUN = {
    "id": "run-42", "experiment": "exp-1", "uri": "s3://runs/42",
    "params": {"lr": 0.01, "optimizer": "adam", "layers": 3, "dropout": False},
    "metrics": {"accuracy": 0.93, "loss": 0.21},
    "dataset": {"name": "transactions", "version": "2026-10", "digest": "sha256:abc"},
    "code": {"repo": "git@example.com:ml/fraud.git", "commit": "deadbeef", "branch": "main"},
    "environment": {"python": "3.11.7", "requirements": ["torch==2.13.0"]},
    "started_at": "2026-11-01T10:00:00Z", "ended_at": "2026-11-01T11:30:00+01:00",
}


def test_register_version_keeps_run_metadata(client):
    create_model(client)
    version = create_version(client, run=RUN, tags={"candidate": "yes"}, description="first")
    assert (version["version"], version["status"], version["stage"]) == (1, "pending", "none")
    run = version["run"]
    assert run["params"] == RUN["params"] and run["metrics"] == RUN["metrics"]
    assert run["dataset"] == RUN["dataset"] and run["code"] == RUN["code"]
    assert run["environment"] == RUN["environment"]
    assert run["started_at"] == "2026-11-01T10:00:00.000000Z"
    assert run["ended_at"] == "2026-11-01T10:30:00.000000Z"  # normalised to UTC
    assert version["metrics"] == RUN["metrics"]
    assert client.get("/api/v1/models/fraud/versions/1").json == version
    assert client.get("/api/v1/models/fraud").json["latest_version"] == 1


def test_version_numbers_increase(client):
    create_model(client)
    assert [create_version(client)["version"] for _ in range(3)] == [1, 2, 3]
    assert create_version(client, parent_version=2)["parent_version"] == 2


def test_parent_must_exist(client):
    create_model(client)
    body = assert_problem(client.post("/api/v1/models/fraud/versions",
                                      json={"parent_version": 5}), 422)
    assert "parent_version" in body["errors"]
    assert create_version(client)["version"] == 1  # the failed call used no number


def test_idempotent_create(client):
    create_model(client)
    headers = {"Idempotency-Key": "abc-123"}
    first = client.post("/api/v1/models/fraud/versions", json={"description": "x"}, headers=headers)
    again = client.post("/api/v1/models/fraud/versions", json={"description": "x"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/api/v1/models/fraud/versions", json={"description": "y"}, headers=headers)
    assert_problem(other, 422)
    assert client.get("/api/v1/models/fraud").json["latest_version"] == 1


def test_patch_version(client):
    create_model(client)
    create_version(client, tags={"a": "1", "b": "2"})
    patched = client.patch("/api/v1/models/fraud/versions/1",
                           json={"description": "d", "tags": {"a": None, "c": "3"}}).json
    assert patched["tags"] == {"b": "2", "c": "3"} and patched["description"] == "d"


def test_metrics_history(client):
    create_model(client)
    create_version(client, run={"metrics": {"accuracy": 0.9}})
    for value in (0.91, 0.95):
        response = client.post("/api/v1/models/fraud/versions/1/metrics",
                               json={"metrics": {"accuracy": value}, "source": "evaluation"})
        assert response.status_code == 201
    client.post("/api/v1/models/fraud/versions/1/metrics",
                json={"metrics": {"accuracy": 0.5}, "source": "live"})
    # an older evaluation value recorded late does not replace the newer one
    client.post("/api/v1/models/fraud/versions/1/metrics",
                json={"metrics": {"accuracy": 0.1}, "recorded_at": "2020-11-02T12:00:00Z"})
    history = client.get("/api/v1/models/fraud/versions/1/metrics?key=accuracy").json
    assert [p["source"] for p in history["items"]][-1] == "live"
    assert len(history["items"]) == 5
    live = client.get("/api/v1/models/fraud/versions/1/metrics?source=live").json["items"]
    assert [p["value"] for p in live] == [0.5]
    assert client.get("/api/v1/models/fraud/versions/1").json["metrics"] == {"accuracy": 0.95}
    page = client.get("/api/v1/models/fraud/versions/1/metrics?limit=2").json
    rest = client.get(f"/api/v1/models/fraud/versions/1/metrics?cursor={page['next_cursor']}").json
    assert len(page["items"]) + len(rest["items"]) == 5


@pytest.mark.parametrize("stage", ["none", "archived"])
def test_stage_route(client, stage):
    create_model(client)
    create_version(client)
    response = client.post("/api/v1/models/fraud/versions/1/stage",
                           json={"stage": stage, "reason": "cleanup"})
    assert response.status_code == 200 and response.json["stage"] == stage


def test_stage_route_refuses_held_stages(client):
    create_model(client)
    create_version(client)
    body = assert_problem(client.post("/api/v1/models/fraud/versions/1/stage",
                                      json={"stage": "production"}), 422)
    assert "stage" in body["errors"]


def test_unknown_version(client):
    create_model(client)
    assert_problem(client.get("/api/v1/models/fraud/versions/7"), 404)
    assert_problem(client.get("/api/v1/models/fraud/versions/99999999999999999999"), 404)
    assert_problem(client.get("/api/v1/models/fraud/versions/0"), 404)


def test_a_version_with_a_source_uri_is_created_ready_in_one_call(client):
    create_model(client)
    assert client.put("/api/v1/models/fraud/criteria", json={"stages": {"production": [
        {"metric": "auc", "op": ">=", "threshold": 0.8}]}}).status_code == 200
    refused = client.post("/api/v1/models/fraud/versions", json={"finalize": True})
    assert refused.status_code == 422 and "finalize" in refused.json["errors"]
    assert client.get("/api/v1/models/fraud/versions").json["items"] == []
    before = client.get("/api/v1/events").json["last_seq"]
    made = client.post("/api/v1/models/fraud/versions", json={
        "finalize": True, "source_uri": "s3://models/fraud/7", "run": {"metrics": {"auc": 0.9}}},
        headers={"Idempotency-Key": "train-job-7"})
    assert made.status_code == 201, made.json
    assert (made.json["version"], made.json["status"]) == (1, "ready")  # no number was lost
    assert set(made.json["evaluations"]) == {"staging", "production"}
    assert client.get("/api/v1/models/fraud/versions/1").json == made.json
    feed = client.get(f"/api/v1/events?after={before}").json["items"]
    assert [e["type"] for e in feed] == ["version.created", "version.ready"]
    assert feed[0]["data"]["version"]["status"] == "ready"  # as committed: never pending
    again = client.post("/api/v1/models/fraud/versions", json={
        "finalize": True, "source_uri": "s3://models/fraud/7", "run": {"metrics": {"auc": 0.9}}},
        headers={"Idempotency-Key": "train-job-7"})
    assert again.json == made.json and again.headers["Idempotent-Replayed"] == "true"
    assert client.post("/api/v1/models/fraud/versions", json={
        "source_uri": "s3://models/fraud/8"}).json["status"] == "pending"


def test_bodies_parsed_on_many_threads_at_once_keep_their_own_values(app):
    """Request schemas are built once and shared by every thread (registry/api/blueprint.py):
    each registration still gets exactly the tags, params and metrics it sent."""
    create_model(app.test_client())

    def register(index: int) -> tuple[int, dict]:
        sent = {"tags": {"job": f"j{index}"}, "run": {"params": {"seed": index},
                                                       "metrics": {"auc": index / 100}}}
        made = app.test_client().post("/api/v1/models/fraud/versions", json=sent)
        assert made.status_code == 201, made.json
        return made.json["version"], sent

    with ThreadPoolExecutor(8) as pool:
        registered = list(pool.map(register, range(40)))
    client = app.test_client()
    for number, sent in registered:
        view = client.get(f"/api/v1/models/fraud/versions/{number}").json
        assert (view["tags"], view["run"]["params"], view["metrics"]) == (
            sent["tags"], sent["run"]["params"], sent["run"]["metrics"])
