"""Declared stages (canary, shadow, prod-eu): declared per model, and given everything production
has: one holder, gated promotion, compare-and-set, idempotency, rollback, history, look-up."""
from __future__ import annotations

import pytest

from registry.db import database
from registry.models import StageHolder
from tests.api.helpers import (assert_problem, create_model, promote, put_criteria,
                               ready_version)


def declare(client, name="canary", model="fraud", **body):
    return client.post(f"/api/v1/models/{model}/stages", json={"name": name, **body})


def rollback(client, model="fraud", headers=None, **body):
    return client.post(f"/api/v1/models/{model}/rollback", json=body, headers=headers or {})


@pytest.fixture
def fraud(client):
    """A model with three ready versions and the declared stage canary."""
    create_model(client)
    for auc in (0.80, 0.85, 0.90):
        ready_version(client, metrics={"auc": auc})
    assert declare(client, description="5% of traffic").status_code == 201
    return client


def test_declaring_listing_and_removing_a_stage(client):
    create_model(client)
    answer = declare(client, "prod-eu", description="Frankfurt", requires_admin=True)
    assert answer.status_code == 201
    assert answer.json == {"name": "prod-eu", "builtin": False, "description": "Frankfurt",
                           "requires_admin": True, "on_degraded": None,
                           "created_at": answer.json["created_at"], "holder": None}
    items = client.get("/api/v1/models/fraud/stages").json["items"]
    assert [(s["name"], s["builtin"]) for s in items] == [
        ("production", True), ("staging", True), ("prod-eu", False)]
    assert client.delete("/api/v1/models/fraud/stages/prod-eu").status_code == 204
    assert [s["name"] for s in client.get("/api/v1/models/fraud/stages").json["items"]] == [
        "production", "staging"]
    events = client.get("/api/v1/events?model=fraud").json["items"]
    assert [e["type"] for e in events][-2:] == ["stage.declared", "stage.removed"]


@pytest.mark.parametrize("name, status", [
    ("canary", 409), ("production", 422), ("staging", 422), ("archived", 422), ("none", 422),
    ("Canary", 422), ("9lives", 422), ("a" * 41, 422), ("", 422), ("eu_west", 422)])
def test_names_that_cannot_be_declared(fraud, name, status):
    body = assert_problem(declare(fraud, name), status)
    if status == 422:
        assert "name" in body.get("errors", {}), body
    else:
        assert body["type"].endswith("stage-exists")


def test_a_held_stage_and_the_builtins_cannot_be_removed(fraud):
    assert promote(fraud, version=1, stage="canary").status_code == 200
    body = assert_problem(fraud.delete("/api/v1/models/fraud/stages/canary"), 409)
    assert "version 1 holds canary" in body["detail"]
    assert_problem(fraud.delete("/api/v1/models/fraud/stages/production"), 409)
    body = assert_problem(fraud.delete("/api/v1/models/fraud/stages/shadow"), 404)
    assert body["type"].endswith("unknown-stage")


@pytest.mark.parametrize("method, path, body", [
    ("post", "/promote", {"version": 1, "stage": "shadow"}),
    ("post", "/rollback", {"stage": "shadow"}),
    ("get", "/stages/shadow", None),
    ("get", "/history?stage=shadow", None),
    ("get", "/history?stage=shadow&at=2026-01-01T00:00:00Z", None),
    ("post", "/versions/1/evaluate", {"stage": "shadow"}),
])
def test_an_undeclared_stage_is_404_unknown_stage_everywhere(fraud, method, path, body):
    answer = getattr(fraud, method)(f"/api/v1/models/fraud{path}", json=body)
    assert assert_problem(answer, 404)["type"].endswith("unknown-stage")


def test_a_version_holds_several_stages_and_keeps_its_label(fraud):
    assert promote(fraud, version=2, stage="staging").status_code == 200
    assert promote(fraud, version=2, stage="canary").status_code == 200
    assert promote(fraud, version=1).status_code == 200
    view = fraud.get("/api/v1/models/fraud/versions/2").json
    assert (view["stage"], view["stages"]) == ("staging", ["staging", "canary"])
    model = fraud.get("/api/v1/models/fraud").json
    assert {stage: held["version"] for stage, held in model["stages"].items()} == {
        "production": 1, "staging": 2, "canary": 2}
    assert list(model["stages"]) == ["production", "staging", "canary"]
    canary = fraud.get("/api/v1/models/fraud/stages/canary").json
    assert model["stages"]["canary"]["since"] == canary["since"]
    assert model["stages"]["canary"]["stage_since"] == model["stages"]["staging"]["since"]
    # promoting the canary to production leaves staging (as before) and keeps canary
    assert promote(fraud, version=2).status_code == 200
    view = fraud.get("/api/v1/models/fraud/versions/2").json
    assert (view["stage"], view["stages"]) == ("production", ["production", "canary"])
    assert fraud.get("/api/v1/models/fraud/versions/1").json["stage"] == "archived"
    assert [m["name"] for m in fraud.get("/api/v1/models?stage=canary").json["items"]] == ["fraud"]


def test_promote_and_rollback_a_declared_stage(fraud):
    for number in (1, 2, 3):
        answer = promote(fraud, version=number, stage="canary", reason=f"try {number}")
        assert answer.status_code == 200, answer.json
    assert answer.json["previous_version"] == 2
    back = rollback(fraud, stage="canary", reason="error rate")
    assert back.status_code == 200, back.json
    assert (back.json["version"], back.json["rolled_back_version"]) == (2, 3)
    holder = fraud.get("/api/v1/models/fraud/stages/canary").json
    assert (holder["stage"], holder["version"]) == ("canary", 2)
    three = fraud.get("/api/v1/models/fraud/versions/3").json
    assert three["rolled_back"] and three["stages"] == [] and three["stage"] == "none"
    # the production stage was never touched
    assert_problem(fraud.get("/api/v1/models/fraud/production"), 404)
    history = fraud.get("/api/v1/models/fraud/history?stage=canary").json["items"]
    assert [(m["action"], m["from_version"], m["to_version"]) for m in history] == [
        ("rollback", 3, 2), ("promote", 2, 3), ("promote", 1, 2), ("promote", None, 1)]
    moved = [e for e in fraud.get("/api/v1/events?stage=canary").json["items"]]
    assert [e["type"] for e in moved] == ["model.promoted"] * 3 + ["model.rolled_back"]
    assert all(e["data"]["stage"] == "canary" for e in moved)
    assert fraud.get("/api/v1/events?stage=production").json["items"] == []


def test_history_as_of_an_instant_for_a_declared_stage(fraud):
    promote(fraud, version=1, stage="canary")
    between = fraud.get("/api/v1/models/fraud/stages/canary").json["since"]
    promote(fraud, version=2, stage="canary")
    answer = fraud.get(f"/api/v1/models/fraud/history?stage=canary&at={between}").json
    assert (answer["stage"], answer["version"]) == ("canary", 1)


def test_compare_and_set_and_idempotency_on_a_declared_stage(fraud):
    promote(fraud, version=1, stage="canary")
    stale = promote(fraud, version=2, stage="canary", expected_current_version=3)
    assert assert_problem(stale, 412)["current_version"] == 1
    etag = fraud.get("/api/v1/models/fraud/stages/canary").headers["ETag"]
    assert promote(fraud, version=2, stage="canary",
                   headers={"If-Match": '"1.1.0"'}).status_code == 412
    assert promote(fraud, version=2, stage="canary", headers={"If-Match": etag}).status_code == 200
    key = {"Idempotency-Key": "canary-rollback-1"}
    first = rollback(fraud, stage="canary", headers=key)
    again = rollback(fraud, stage="canary", headers=key)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json
    assert fraud.get("/api/v1/models/fraud/stages/canary").json["version"] == 1


def test_criteria_per_declared_stage_compare_to_any_stage(fraud):
    promote(fraud, version=2, stage="canary")
    put_criteria(fraud, canary=[{"metric": "auc", "op": ">=", "threshold": 0.82}],
                 production=[{"metric": "auc", "compare_to": "canary", "max_regression": 0.01}])
    criteria = fraud.get("/api/v1/models/fraud/criteria").json
    assert set(criteria["stages"]) == {"staging", "production", "canary"}
    refused = promote(fraud, version=1, stage="canary")
    assert assert_problem(refused, 422)["type"].endswith("criteria-not-met")
    # 0.80 against canary's 0.85: more than 0.01 worse
    result = assert_problem(promote(fraud, version=1), 422)["evaluation"]
    assert result["baseline_version"] == 2 and "canary version 2" in result["results"][0]["message"]
    assert promote(fraud, version=3).status_code == 200
    dry = promote(fraud, version=3, stage="canary", dry_run=True).json
    assert dry["dry_run"] and dry["evaluation"]["passed"]
    stored = fraud.post("/api/v1/models/fraud/versions/1/evaluate", json={"stage": "canary"})
    assert stored.status_code == 201 and stored.json["stage"] == "canary"
    assert not stored.json["passed"]
    bad = fraud.put("/api/v1/models/fraud/criteria",
                    json={"stages": {"shadow": [], "production": []}})
    assert "stages.shadow" in assert_problem(bad, 422)["errors"]


def test_forced_promotion_and_requires_admin_on_a_declared_stage(app, client):
    create_model(client)
    ready_version(client)
    assert declare(client, "prod-eu", requires_admin=True).status_code == 201
    put_criteria(client, **{"prod-eu": [{"metric": "auc", "op": ">=", "threshold": 0.9}]})
    forced = promote(client, version=1, stage="prod-eu", force=True, reason="hotfix")
    assert forced.status_code == 200 and forced.json["forced"]
    with app.test_request_context():
        from registry.services import stages as stage_service
        from registry.domain.errors import Forbidden
        with database.connection_context(), pytest.raises(Forbidden, match="prod-eu moves"):
            stage_service.rollback("fraud", stage="prod-eu", actor="ci", is_admin=False,
                                   store=app.extensions["modelyard_store"])


def test_archiving_a_version_leaves_every_stage_it_holds(fraud):
    promote(fraud, version=1, stage="staging")
    promote(fraud, version=1, stage="canary")
    answer = fraud.post("/api/v1/models/fraud/versions/1/stage", json={"stage": "archived"})
    assert answer.status_code == 200 and answer.json["stages"] == []
    items = fraud.get("/api/v1/models/fraud/stages").json["items"]
    assert all(item["holder"] is None for item in items)
    history = fraud.get("/api/v1/models/fraud/history").json["items"]
    assert {(m["stage"], m["action"], m["to_version"]) for m in history[:2]} == {
        ("staging", "archive", None), ("canary", "archive", None)}
    event = fraud.get("/api/v1/events?type=stage.changed").json["items"][-1]
    assert event["data"]["left_stages"] == ["canary", "staging"]


def test_a_model_holding_a_declared_stage_cannot_be_deleted(fraud):
    promote(fraud, version=1, stage="canary")
    body = assert_problem(fraud.delete("/api/v1/models/fraud"), 409)
    assert "canary (version 1)" in body["detail"]


def test_the_database_allows_one_holder_per_declared_stage(fraud):
    promote(fraud, version=1, stage="canary")
    from peewee import IntegrityError
    from registry.models import ModelVersion, RegisteredModel
    with database.connection_context():
        model = RegisteredModel.get(RegisteredModel.name == "fraud")
        two = ModelVersion.get((ModelVersion.model == model) & (ModelVersion.version == 2))
        with pytest.raises(IntegrityError), database.atomic():
            StageHolder.create(model=model, stage="canary", version=two, since=two.created_at)


def test_webhook_subscriptions_filter_by_stage(client):
    create_model(client)
    ready_version(client)
    declare(client)
    hook = client.post("/api/v1/webhooks", json={
        "url": "https://hooks.example.com/canary", "events": ["*"], "stages": ["canary"]})
    assert hook.status_code == 201 and hook.json["stages"] == ["canary"]
    promote(client, version=1, stage="staging")
    promote(client, version=1, stage="canary")
    deliveries = client.get(f"/api/v1/webhooks/{hook.json['id']}/deliveries").json["items"]
    assert [d["event_type"] for d in deliveries] == ["model.promoted"]
    bad = client.post("/api/v1/webhooks", json={"url": "https://h.example.com", "events": ["*"],
                                                "stages": ["archived"]})
    assert_problem(bad, 422)
