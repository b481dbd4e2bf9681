"""Criteria over HTTP: defaults from config, per-model revisions with history, evaluations."""
import pytest

from registry.app import create_app
from tests.api.helpers import assert_problem, create_model, put_criteria, ready_version

ACCURACY = {"metric": "accuracy", "op": ">=", "threshold": 0.9}


def test_a_model_without_criteria_follows_the_config_defaults(backend):
    client = create_app({**backend, "criteria": {"production": [ACCURACY]}},
                        environ={}).test_client()
    create_model(client)
    body = client.get("/api/v1/models/fraud/criteria").json
    assert body["stages"] == {"staging": [], "production": [ACCURACY]}
    assert body["inherited"] == ["staging", "production"] and body["revision"] is None


def test_defaults_come_from_the_environment_as_json(backend):
    app = create_app(backend, environ={
        "MODELYARD_CRITERIA_STAGING": '[{"require": ["run.code.commit"]}]'})
    create_model(app.test_client())
    stages = app.test_client().get("/api/v1/models/fraud/criteria").json["stages"]
    assert stages["staging"] == [{"require": ["run.code.commit"]}]


def test_put_sets_a_revision_and_keeps_history(client):
    create_model(client)
    first = put_criteria(client, production=[ACCURACY])
    assert (first["revision"], first["inherited"]) == (1, ["staging"])
    second = put_criteria(client, production=[], staging=[{"require": ["run.dataset.digest"]}])
    assert second["revision"] == 2 and second["inherited"] == []
    history = client.get("/api/v1/models/fraud/criteria/history?limit=1").json
    assert [item["revision"] for item in history["items"]] == [2]
    older = client.get(f"/api/v1/models/fraud/criteria/history?cursor={history['next_cursor']}")
    assert older.json["items"][0]["stages"] == {"production": [ACCURACY]}
    events = client.get("/api/v1/events?type=criteria.updated").json["items"]
    assert [event["data"]["revision"] for event in events] == [1, 2]


@pytest.mark.parametrize("rules, key", [
    ([{"metric": "accuracy", "op": "=>", "threshold": 0.9}], "stages.production[0].op"),
    ([ACCURACY, {"op": ">=", "threshold": 1}], "stages.production[1].metric"),
    ([{"metric": "a", "op": ">=", "threshold": 1e400}], "stages.production[0].threshold"),
    ("accuracy >= 0.9", "stages.production"),
])
def test_invalid_rules_get_422_naming_the_rule_and_change_nothing(client, rules, key):
    create_model(client)
    response = client.put("/api/v1/models/fraud/criteria", json={"stages": {"production": rules}})
    body = assert_problem(response, 422)
    assert key in body["errors"], body
    assert client.get("/api/v1/models/fraud/criteria").json["revision"] is None


def test_non_finite_threshold_in_raw_json_is_refused(client):
    create_model(client)
    response = client.put("/api/v1/models/fraud/criteria", content_type="application/json",
                          data='{"stages": {"production": [{"metric": "a", "op": ">=", '
                               '"threshold": NaN}]}}')
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"


def test_finalize_evaluates_for_both_stages(client):
    create_model(client)
    put_criteria(client, production=[ACCURACY], staging=[{"require": ["run.dataset.digest"]}])
    version = ready_version(client, metrics={"accuracy": 0.8})
    assert version["evaluations"]["production"]["passed"] is False
    assert version["evaluations"]["staging"]["passed"] is False
    assert version["evaluations"]["production"]["trigger"] == "finalize"
    ready = client.get("/api/v1/events?type=version.ready").json["items"][0]
    stages = {e["stage"]: e["passed"] for e in ready["data"]["evaluations"]}
    assert stages == {"staging": False, "production": False}
    message = version["evaluations"]["production"]["results"][0]["message"]
    assert message == "accuracy is 0.8 but it must be at least 0.9."


def test_evaluate_stores_what_it_used(client):
    create_model(client)
    put_criteria(client, production=[{"metric": "accuracy", "compare_to": "production",
                                      "max_regression": 0.01}])
    ready_version(client, metrics={"accuracy": 0.9})
    assert client.post("/api/v1/models/fraud/promote", json={"version": 1}).status_code == 200
    ready_version(client, metrics={"accuracy": 0.85})
    response = client.post("/api/v1/models/fraud/versions/2/evaluate", json={"stage": "production"})
    assert response.status_code == 201
    evaluation = response.json
    assert (evaluation["passed"], evaluation["baseline_version"]) == (False, 1)
    assert (evaluation["trigger"], evaluation["criteria_revision"]) == ("manual", 1)
    assert evaluation["results"][0]["expected"] == ">= 0.89"
    listed = client.get("/api/v1/models/fraud/versions/2/evaluations?stage=production").json
    assert listed["items"][0] == evaluation and len(listed["items"]) == 2
    assert client.get("/api/v1/events?type=evaluation.completed").json["items"][0][
        "data"]["evaluation"]["id"] == evaluation["id"]


def test_live_metrics_with_a_maximum_age(client):
    create_model(client)
    put_criteria(client, production=[{"metric": "ctr", "source": "live", "op": ">=",
                                      "threshold": 0.02, "max_age_s": 3600}])
    ready_version(client)
    stale = client.post("/api/v1/models/fraud/versions/1/metrics", json={
        "metrics": {"ctr": 0.03}, "source": "live", "recorded_at": "2020-01-01T00:00:00Z"})
    assert stale.status_code == 201
    result = client.post("/api/v1/models/fraud/versions/1/evaluate", json={}).json
    assert not result["passed"] and "old" in result["results"][0]["message"]
    client.post("/api/v1/models/fraud/versions/1/metrics", json={"metrics": {"ctr": 0.01},
                                                                 "source": "live"})
    client.post("/api/v1/models/fraud/versions/1/metrics", json={"metrics": {"ctr": 0.05},
                                                                 "source": "live"})
    result = client.post("/api/v1/models/fraud/versions/1/evaluate", json={}).json
    assert result["passed"] and result["results"][0]["observed"] == 0.05


def test_evaluating_an_unknown_version_is_404(client):
    create_model(client)
    assert_problem(client.post("/api/v1/models/fraud/versions/9/evaluate", json={}), 404)
    assert_problem(client.post("/api/v1/models/fraud/versions/1/evaluate",
                               json={"stage": "archived"}), 422)
