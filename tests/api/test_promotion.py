"""Gated promotion over HTTP: criteria, force, dry run, compare-and-set, idempotency."""
from tests.api.helpers import (assert_problem, create_model, create_version, promote,
                               put_criteria, ready_version)

ACCURACY = {"metric": "accuracy", "op": ">=", "threshold": 0.9}


def _events(client, type_):
    return client.get(f"/api/v1/events?type={type_}").json["items"]


def _stage_of(client, version):
    return client.get(f"/api/v1/models/fraud/versions/{version}").json["stage"]


def test_a_passing_version_is_promoted_and_the_previous_holder_archived(client):
    create_model(client)
    put_criteria(client, production=[ACCURACY])
    ready_version(client, metrics={"accuracy": 0.91})
    ready_version(client, metrics={"accuracy": 0.95})
    first = promote(client, version=1)
    assert first.status_code == 200, first.json
    assert (first.json["previous_version"], first.json["evaluation"]["passed"]) == (None, True)
    second = promote(client, version=2, reason="better recall").json
    assert (second["stage"], second["version"], second["previous_version"]) == ("production", 2, 1)
    assert (_stage_of(client, 1), _stage_of(client, 2)) == ("archived", "production")
    moves = client.get("/api/v1/models/fraud/history").json["items"]
    assert [(m["from_version"], m["to_version"], m["action"]) for m in moves] == [
        (1, 2, "promote"), (None, 1, "promote")]
    assert moves[0]["evaluation_id"] == second["evaluation"]["id"]
    assert moves[0]["reason"] == "better recall" and moves[0]["actor"] == "anonymous"
    event = _events(client, "model.promoted")[-1]
    assert event["seq"] == second["event_seq"]
    assert event["data"]["previous_version"] == 1 and event["data"]["production_version"] == 2


def test_a_failing_version_gets_422_with_the_evaluation_and_nothing_changes(client):
    create_model(client)
    put_criteria(client, production=[ACCURACY])
    ready_version(client, metrics={"accuracy": 0.8})
    before = client.get("/api/v1/events").json["last_seq"]
    body = assert_problem(promote(client, version=1), 422)
    assert body["type"].endswith("/criteria-not-met")
    assert body["evaluation"]["passed"] is False
    assert body["evaluation"]["results"][0]["message"] in body["detail"]
    assert _stage_of(client, 1) == "none"
    assert client.get("/api/v1/events").json["last_seq"] == before
    assert client.get("/api/v1/models/fraud/history").json["items"] == []


def test_force_needs_a_reason_and_is_recorded(client):
    create_model(client)
    put_criteria(client, production=[ACCURACY])
    ready_version(client, metrics={"accuracy": 0.8})
    assert_problem(promote(client, version=1, force=True), 422)
    response = promote(client, version=1, force=True, reason="hotfix for incident 42")
    assert response.status_code == 200 and response.json["forced"] is True
    assert response.json["evaluation"]["passed"] is False
    move = client.get("/api/v1/models/fraud/history").json["items"][0]
    assert move["forced"] is True and move["reason"] == "hotfix for incident 42"


def test_dry_run_answers_and_changes_nothing(client):
    create_model(client)
    put_criteria(client, production=[ACCURACY])
    ready_version(client, metrics={"accuracy": 0.95})
    ready_version(client, metrics={"accuracy": 0.5})
    before = client.get("/api/v1/events").json["last_seq"]
    answer = promote(client, version=1, dry_run=True).json
    assert answer["dry_run"] is True and answer["event_seq"] is None
    assert answer["evaluation"]["id"] is None and answer["evaluation"]["passed"]
    assert_problem(promote(client, version=2, dry_run=True), 422)
    assert _stage_of(client, 1) == "none"
    assert client.get("/api/v1/events").json["last_seq"] == before
    assert client.get("/api/v1/models/fraud/versions/1/evaluations").json["items"][0][
        "trigger"] == "finalize"


def test_expected_current_version_makes_it_compare_and_set(client):
    create_model(client)
    for _ in range(3):
        ready_version(client)
    assert promote(client, version=1, expected_current_version=None).status_code == 200
    stale = assert_problem(promote(client, version=2, expected_current_version=None), 412)
    assert stale["current_version"] == 1
    assert promote(client, version=2, expected_current_version=1).status_code == 200
    assert assert_problem(promote(client, version=3, expected_current_version=1),
                          412)["current_version"] == 2


def test_if_match_with_the_stage_etag(client):
    create_model(client)
    for _ in range(3):
        ready_version(client)
    promote(client, version=1)
    etag = client.get("/api/v1/models/fraud/production").headers["ETag"]
    assert promote(client, version=2, headers={"If-Match": etag}).status_code == 200
    body = assert_problem(promote(client, version=3, headers={"If-Match": etag}), 412)
    assert body["current_version"] == 2
    assert promote(client, version=3, headers={"If-Match": "*"}).status_code == 200


def test_a_retried_promotion_returns_the_first_answer(client):
    create_model(client)
    ready_version(client)
    ready_version(client)
    headers = {"Idempotency-Key": "deploy-7"}
    first = promote(client, version=1, headers=headers)
    promote(client, version=2)
    again = promote(client, version=1, headers=headers)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert _stage_of(client, 2) == "production"
    assert len(_events(client, "model.promoted")) == 2
    assert_problem(promote(client, version=2, headers=headers), 422)


def test_promotion_refusals(client):
    create_model(client)
    create_version(client)
    ready_version(client)
    assert_problem(promote(client, version=1), 409)  # pending
    assert_problem(promote(client, version=9), 404)
    assert_problem(promote(client, model="nope", version=1), 404)
    assert promote(client, version=2).status_code == 200
    assert assert_problem(promote(client, version=2), 409)["current_version"] == 2
    assert_problem(promote(client, version=2, stage="archived"), 422)


def test_the_staging_holder_moves_up_and_leaves_staging_empty(client):
    create_model(client)
    ready_version(client)
    assert promote(client, version=1, stage="staging").status_code == 200
    assert promote(client, version=1).json["previous_version"] is None
    assert client.get("/api/v1/models/fraud/stages/staging").status_code == 404
    moves = client.get("/api/v1/models/fraud/history?stage=staging").json["items"]
    assert [(m["from_version"], m["to_version"]) for m in moves] == [(1, None), (None, 1)]
    model = client.get("/api/v1/models/fraud").json
    assert model["production"]["version"] == 1 and model["staging"] is None


def test_staging_has_its_own_criteria(client):
    create_model(client)
    put_criteria(client, staging=[{"require": ["run.code.commit"]}])
    ready_version(client)
    body = assert_problem(promote(client, version=1, stage="staging"), 422)
    assert body["evaluation"]["results"][0]["message"] == "Version 1 is missing run.code.commit."
    assert promote(client, version=1).status_code == 200  # production has no rules


def test_a_refused_promotion_reports_no_evaluation_id_and_stores_none(client):
    create_model(client)
    put_criteria(client, production=[ACCURACY])
    ready_version(client, metrics={"accuracy": 0.8})
    body = assert_problem(promote(client, version=1), 422)
    assert body["evaluation"]["id"] is None
    stored = client.get("/api/v1/models/fraud/versions/1/evaluations").json["items"]
    assert {e["trigger"] for e in stored} == {"finalize"}
    forced = promote(client, version=1, force=True, reason="r").json["evaluation"]
    assert forced["id"] is not None and not forced["passed"]
    assert client.get("/api/v1/models/fraud/versions/1/evaluations").json["items"][0] == forced


def test_the_readme_worked_example(backend):
    """The README's criteria and refusal are what the service really does."""
    import json
    import re
    import tomllib
    from pathlib import Path

    from registry.app import create_app

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    toml_block = re.search(r"```toml\n(.*?)```", readme, re.S).group(1)
    criteria = tomllib.loads(toml_block)["criteria"]
    client = create_app({**backend, "criteria": criteria}, environ={}).test_client()
    create_model(client)
    ready_version(client, metrics={"accuracy": 0.94}, run={
        "dataset": {"name": "tx", "digest": "sha256:9f2c"}, "code": {"commit": "4be1d0c"}})
    assert promote(client, version=1).status_code == 200
    ready_version(client, metrics={"accuracy": 0.91}, run={
        "dataset": {"name": "tx", "digest": "sha256:77aa"}})
    refused = assert_problem(promote(client, version=2), 422)
    assert f'"detail": {json.dumps(refused["detail"])}' in readme
    for result in refused["evaluation"]["results"]:
        assert result["message"] in readme
    forced = promote(client, version=2, force=True,
                     reason="INC-311: v1 leaks PII; accepted lower accuracy").json
    assert (forced["previous_version"], forced["forced"]) == (1, True)
    back = client.post("/api/v1/models/fraud/rollback", headers={"Idempotency-Key": "INC-312"},
                       json={"reason": "INC-312: false positives doubled",
                             "expected_current_version": 2}).json
    assert (back["version"], back["rolled_back_version"]) == (1, 2)


def test_an_imported_move_names_the_source_registry_as_actor(client):
    create_model(client)
    put_criteria(client, production=[ACCURACY])
    ready_version(client, metrics={"accuracy": 0.8})
    body = assert_problem(promote(client, version=1, reason="held Production in MLflow",
                                  imported_from="mlflow"), 422)
    assert "force" in body["errors"]
    assert "imported_from" in assert_problem(promote(
        client, version=1, force=True, reason="r", imported_from="MLflow!"), 422)["errors"]
    assert client.get("/api/v1/models/fraud/history").json["items"] == []
    done = promote(client, version=1, force=True, reason="held Production in MLflow",
                   imported_from="mlflow")
    assert done.status_code == 200, done.json
    move = client.get("/api/v1/models/fraud/history").json["items"][0]
    assert (move["actor"], move["forced"], move["reason"]) == (
        "import:mlflow", True, "held Production in MLflow")
    event = _events(client, "model.promoted")[-1]
    assert (event["actor"], event["data"]["imported_by"]) == ("import:mlflow", "anonymous")
