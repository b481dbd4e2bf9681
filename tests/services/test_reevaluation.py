"""Scheduled re-evaluation: a production version degrading through live metrics, on both
databases, with the notify and the rollback policies."""
from __future__ import annotations

import pytest

from registry.db import database
from registry.models import JobRun
from registry.services.reevaluation import reevaluate_all
from registry.worker import fire
from tests.api.helpers import create_model, promote, put_criteria, ready_version

LIVE_CTR = {"metric": "ctr", "source": "live", "op": ">=", "threshold": 0.02}


def live(client, version: int, ctr: float) -> None:
    response = client.post(f"/api/v1/models/fraud/versions/{version}/metrics",
                           json={"metrics": {"ctr": ctr}, "source": "live"})
    assert response.status_code == 201, response.json


def two_promoted_versions(client, *, on_degraded: str = "notify") -> None:
    """Version 1 then version 2 promoted to production, both passing on live ctr 0.05."""
    create_model(client)
    put_criteria(client, production=[LIVE_CTR])
    for number in (1, 2):
        ready_version(client)
        live(client, number, 0.05)
        assert promote(client, version=number).status_code == 200
    response = client.patch("/api/v1/models/fraud", json={"on_degraded": on_degraded})
    assert response.status_code == 200 and response.json["on_degraded"] == on_degraded


def reevaluate(app) -> dict:
    with database.connection_context():
        return reevaluate_all(store=app.extensions["modelyard_store"])


def events(client, type_: str) -> list[dict]:
    return client.get(f"/api/v1/events?type={type_}").json["items"]


def test_a_passing_production_version_is_evaluated_and_nothing_else_happens(app, client):
    two_promoted_versions(client)
    summary = reevaluate(app)
    assert summary["models"] == 1 and summary["evaluations"] == 1 and summary["degraded"] == []
    stored = client.get("/api/v1/models/fraud/versions/2/evaluations").json["items"][0]
    assert stored["trigger"] == "scheduled" and stored["actor"] == "scheduler" and stored["passed"]
    assert events(client, "production.degraded") == []


def test_degrading_through_live_metrics_notifies_once(app, client):
    two_promoted_versions(client)
    live(client, 2, 0.01)
    summary = reevaluate(app)
    assert summary["degraded"] == ["fraud"] and summary["failing"] == ["fraud"]
    [degraded] = events(client, "production.degraded")
    assert degraded["version"] == 2 and degraded["actor"] == "scheduler"
    assert degraded["data"]["on_degraded"] == "notify" and not degraded["data"]["rolling_back"]
    assert degraded["data"]["failed"] == ["live ctr is 0.01 but it must be at least 0.02."]
    evaluation = degraded["data"]["evaluation"]
    assert evaluation["trigger"] == "scheduled" and not evaluation["passed"]
    assert evaluation["results"][0]["margin"] == pytest.approx(-0.01)
    assert client.get("/api/v1/models/fraud/production").json["version"] == 2

    again = reevaluate(app)  # still failing: no second event, no rollback
    assert again["failing"] == ["fraud"] and again["degraded"] == []
    assert len(events(client, "production.degraded")) == 1


def test_the_rollback_policy_rolls_back_with_the_failed_evaluation_as_reason(app, client):
    two_promoted_versions(client, on_degraded="rollback")
    live(client, 2, 0.01)
    summary = reevaluate(app)
    assert summary["rolled_back"] == [{"model": "fraud", "from_version": 2, "to_version": 1}]
    degraded = events(client, "production.degraded")[0]
    assert degraded["data"]["rolling_back"] is True
    rolled = events(client, "model.rolled_back")[0]
    assert rolled["actor"] == "scheduler" and rolled["data"]["rolled_back_version"] == 2
    assert degraded["seq"] < rolled["seq"]
    assert client.get("/api/v1/models/fraud/production").json["version"] == 1
    move = client.get("/api/v1/models/fraud/history?stage=production").json["items"][0]
    failed_id = degraded["data"]["evaluation"]["id"]
    assert move["action"] == "rollback" and move["actor"] == "scheduler"
    assert move["evaluation_id"] == failed_id
    assert move["reason"].startswith(f"automatic rollback: scheduled evaluation {failed_id} of "
                                     "version 2 failed: live ctr is 0.01")


def test_a_version_that_never_passed_since_a_rollback_is_not_rolled_back_again(app, client):
    """Otherwise one bad night would walk production back through its whole history."""
    two_promoted_versions(client, on_degraded="rollback")
    live(client, 2, 0.01)
    live(client, 1, 0.01)
    first = reevaluate(app)
    assert first["rolled_back"] == [{"model": "fraud", "from_version": 2, "to_version": 1}]
    second = reevaluate(app)  # version 1 fails too, but has not passed since it came back
    assert second["degraded"] == ["fraud"] and second["rolled_back"] == []
    assert client.get("/api/v1/models/fraud/production").json["version"] == 1
    assert [e["version"] for e in events(client, "production.degraded")] == [2, 1]


def test_a_rollback_with_no_target_is_reported_not_raised(app, client):
    create_model(client)
    put_criteria(client, production=[LIVE_CTR])
    ready_version(client)
    live(client, 1, 0.05)
    assert promote(client, version=1).status_code == 200
    client.patch("/api/v1/models/fraud", json={"on_degraded": "rollback"})
    live(client, 1, 0.0)
    summary = reevaluate(app)
    assert summary["rollback_failed"][0]["from_version"] == 1
    assert "no" in summary["rollback_failed"][0]["error"].lower()
    assert client.get("/api/v1/models/fraud/production").json["version"] == 1


def test_staging_holders_are_evaluated_too(app, client):
    create_model(client)
    put_criteria(client, staging=[{"require": ["run.code.commit"]}])
    ready_version(client)
    assert promote(client, version=1, stage="staging", force=True,
                   reason="try it").status_code == 200
    summary = reevaluate(app)
    assert summary["evaluations"] == 1 and summary["degraded"] == []
    stored = client.get("/api/v1/models/fraud/versions/1/evaluations?stage=staging").json
    assert stored["items"][0]["trigger"] == "scheduled" and not stored["items"][0]["passed"]


def test_a_fire_is_recorded_as_a_run(backend):
    from registry.app import create_app
    app = create_app({**backend, "schedule": {"reevaluate": "* * * * * *"}}, environ={})
    client = app.test_client()
    two_promoted_versions(client)
    fire("reevaluate", app.config["MODELYARD"], app.extensions["modelyard_store"])
    schedules = {s["job"]: s for s in client.get("/api/v1/schedules").json}
    run = schedules["reevaluate"]["last_run"]
    assert run["outcome"] == "succeeded" and run["summary"]["evaluations"] == 1
    assert run["finished_at"] >= run["started_at"] and run["error"] is None
    assert schedules["reevaluate"]["cron"] == "* * * * * *"
    assert schedules["reevaluate"]["next_run_at"] > run["scheduled_for"]
    runs = client.get("/api/v1/schedules/reevaluate/runs").json
    assert [r["id"] for r in runs] == [run["id"]]
    with database.connection_context():
        assert JobRun.select().count() == 1


def test_one_broken_model_does_not_stop_the_others_and_the_run_says_failed(backend):
    """Criteria stored by an older release in a shape this one cannot read: that model's
    evaluation fails, the other models are still evaluated, the run is `failed` and keeps its
    summary."""
    from registry.app import create_app
    from registry.models import CriteriaRevision, RegisteredModel

    app = create_app({**backend, "schedule": {"reevaluate": "* * * * * *"}}, environ={})
    client = app.test_client()
    for name in ("broken", "fraud"):
        create_model(client, name)
        ready_version(client, name)
        assert promote(client, name, version=1).status_code == 200
    with database.connection_context():
        CriteriaRevision.create(model=RegisteredModel.get(RegisteredModel.name == "broken"),
                                revision=1, stages={"production": [{"metric": "auc"}]},
                                actor="old release")
    fire("reevaluate", app.config["MODELYARD"], app.extensions["modelyard_store"])
    run = client.get("/api/v1/schedules/reevaluate/runs").json[0]
    assert run["outcome"] == "failed" and run["error"].startswith("broken: ")
    assert run["summary"]["models"] == 1 and run["summary"]["evaluations"] == 1
    stored = client.get("/api/v1/models/fraud/versions/1/evaluations").json["items"][0]
    assert stored["trigger"] == "scheduled"


def test_a_run_whose_worker_died_is_marked_abandoned_at_the_next_fire(backend):
    """A worker killed mid-run leaves its run `running`; the next fire of any job on any worker
    marks it `abandoned` once schedule.abandon_after_s has passed, and the runs route shows it."""
    import datetime as dt

    from registry.app import create_app
    from registry.services.jobs import claim_fire

    app = create_app({**backend, "schedule": {"db_analyze": "* * * * * *",
                                              "abandon_after_s": 600}}, environ={})
    client = app.test_client()
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=601)
    recent = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=30)
    with database.connection_context():
        dead = claim_fire("reevaluate", started, worker="gone:1", now=started)
        busy = claim_fire("reevaluate", recent, worker="busy:2", now=recent)
    fire("db_analyze", app.config["MODELYARD"], app.extensions["modelyard_store"])
    runs = {run["id"]: run for run in client.get("/api/v1/schedules/reevaluate/runs").json}
    assert runs[dead.id]["outcome"] == "abandoned" and runs[dead.id]["finished_at"]
    assert "its worker stopped" in runs[dead.id]["error"]
    assert runs[busy.id]["outcome"] == "running"  # still within the limit: maybe just slow


def test_a_declared_stage_degrades_and_rolls_back_under_its_own_policy(app, client):
    """canary rolls back (its own on_degraded) while the model's policy stays notify."""
    create_model(client)
    assert client.post("/api/v1/models/fraud/stages",
                       json={"name": "canary", "on_degraded": "rollback"}).status_code == 201
    put_criteria(client, canary=[LIVE_CTR])
    for number in (1, 2):
        ready_version(client)
        live(client, number, 0.05)
        assert promote(client, version=number, stage="canary").status_code == 200
    live(client, 2, 0.01)
    summary = reevaluate(app)
    assert summary["evaluations"] == 1 and summary["degraded"] == ["fraud"]
    assert summary["rolled_back"] == [{"model": "fraud", "stage": "canary", "from_version": 2,
                                       "to_version": 1}]
    [degraded] = events(client, "stage.degraded")
    assert degraded["data"]["stage"] == "canary" and degraded["data"]["rolling_back"]
    assert events(client, "production.degraded") == []
    rolled = events(client, "model.rolled_back")[0]
    assert rolled["data"]["stage"] == "canary" and rolled["actor"] == "scheduler"
    assert client.get("/api/v1/models/fraud/stages/canary").json["version"] == 1
    report = client.post("/api/v1/reports", json={}).json
    [section] = report["models"]
    assert section["status"] == "no_production"
    assert [(s["stage"], s["version"], s["status"]) for s in section["stages"]] == [
        ("canary", 1, "passing")]
    page = client.get(f"/api/v1/reports/{report['id']}?format=html").get_data(as_text=True)
    assert "Stages held" in page and "canary" in page
