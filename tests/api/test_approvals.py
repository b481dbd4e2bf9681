"""Promotion requests with four eyes, on both databases, with real tokens: self-approval refused,
N approvers counted by subject, stale requests, expiry, reject and cancel, direct promotions
refused (forced ones recorded), rollback never waiting, and 8 racing approvals."""
from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest

from registry.app import create_app
from registry.db import database
from registry.services import approvals as approval_service
from tests.api.helpers import assert_problem

ADMIN = "approvals-admin-token-0123456789abcdefgh"


class Registry:
    def __init__(self, app) -> None:
        self.app, self.client = app, app.test_client()
        self.tokens = {"admin": ADMIN}

    def as_(self, who: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def add_token(self, name: str, *, subject: str | None = None, role="deployer") -> None:
        body = {"name": name, "role": role, **({"subject": subject} if subject else {})}
        self.tokens[name] = self.client.post("/api/v1/tokens", json=body,
                                             headers=self.as_("admin")).json["token"]

    def post(self, who: str, path: str, **body):
        return self.client.post(f"/api/v1{path}", json=body, headers=self.as_(who))

    def get(self, path: str):
        return self.client.get(f"/api/v1{path}", headers=self.as_("admin")).json

    def holder(self, stage="production"):
        answer = self.client.get(f"/api/v1/models/fraud/stages/{stage}", headers=self.as_("admin"))
        return answer.json["version"] if answer.status_code == 200 else None


@pytest.fixture
def registry(backend):
    app = create_app({**backend, "auth": {"enabled": True, "admin_token": ADMIN}}, environ={})
    reg = Registry(app)
    reg.post("admin", "/models", name="fraud")
    reg.client.put("/api/v1/models/fraud/criteria", headers=reg.as_("admin"), json={
        "stages": {"production": [{"metric": "auc", "op": ">=", "threshold": 0.8}]}})
    for auc in (0.85, 0.9, 0.5, 0.95):
        number = reg.post("admin", "/models/fraud/versions", source_uri="s3://m",
                          run={"metrics": {"auc": auc}}).json["version"]
        reg.post("admin", f"/models/fraud/versions/{number}/finalize")
    reg.post("admin", "/models/fraud/promote", version=1)
    for name, subject in (("alice", None), ("bob", None), ("carol", None),
                          ("carol-ci", "carol")):
        reg.add_token(name, subject=subject)
    return reg


def require(registry, n: int, stage="production") -> None:
    answer = registry.client.patch("/api/v1/models/fraud", headers=registry.as_("admin"),
                                   json={"approvals": {stage: {"required": n}}})
    assert answer.status_code == 200 and answer.json["approvals"].get(stage, {}).get(
        "required", 0) == n


def open_request(registry, who="alice", version=2, **extra) -> dict:
    answer = registry.post(who, "/models/fraud/promotion-requests", version=version,
                           reason="better auc", **extra)
    assert answer.status_code == 201, answer.json
    return answer.json


def test_a_request_needs_another_subjects_approval(registry):
    require(registry, 1)
    refused = assert_problem(registry.post("alice", "/models/fraud/promote", version=2), 409)
    assert refused["type"].endswith("approval-required")
    admin = assert_problem(registry.post("admin", "/models/fraud/promote", version=2), 409)
    assert admin["type"].endswith("approval-required")  # admins too, unless they force it
    request = open_request(registry)
    assert (request["status"], request["required"], request["expected_current_version"]) == (
        "open", 1, 1)
    assert request["evaluation"]["passed"] and request["evaluation"]["id"]
    self_approval = assert_problem(registry.post("alice", f"/promotion-requests/"
                                                 f"{request['id']}/approve"), 403)
    assert self_approval["type"].endswith("self-approval")
    approved = registry.post("bob", f"/promotion-requests/{request['id']}/approve",
                             comment="checked the eval")
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    assert registry.holder() == 2
    promoted = [e for e in registry.get("/events?type=model.promoted")["items"]][-1]
    assert promoted["data"]["request_id"] == request["id"]
    assert promoted["data"]["approved_by"] == ["bob"] and promoted["actor"] == "token:bob"
    history = registry.get("/models/fraud/history?stage=production")["items"][0]
    assert history["evaluation_id"] == request["evaluation"]["id"]
    assert history["reason"] == f"promotion request {request['id']}: better auc"
    types = [e["type"] for e in registry.get("/events?model=fraud")["items"]]
    assert types[-3:] == ["promotion.requested", "promotion.approved", "model.promoted"]
    audit = registry.get("/audit?action=promotion.approved")["items"]
    assert audit and audit[0]["actor"] == "token:bob"


def test_two_approvers_and_one_subjects_tokens_count_once(registry):
    require(registry, 2)
    request = open_request(registry)
    first = registry.post("carol", f"/promotion-requests/{request['id']}/approve")
    assert first.json["status"] == "open" and len(first.json["approvals"]) == 1
    again = assert_problem(registry.post("carol-ci", f"/promotion-requests/{request['id']}"
                                         "/approve"), 409)
    assert "carol has already approved" in again["detail"]
    assert registry.holder() == 1
    done = registry.post("bob", f"/promotion-requests/{request['id']}/approve")
    assert done.json["status"] == "approved" and registry.holder() == 2
    assert [a["subject"] for a in done.json["approvals"]] == ["carol", "bob"]


def test_a_request_whose_stage_moved_goes_stale_and_nothing_moves(registry):
    require(registry, 1)
    request = open_request(registry)
    forced = registry.post("admin", "/models/fraud/promote", version=4, force=True,
                           reason="hotfix during the incident")
    assert forced.status_code == 200
    bypass = registry.get("/events?type=model.promoted")["items"][-1]
    assert bypass["data"]["forced"] and bypass["data"]["bypassed_approval"]
    stale = registry.post("bob", f"/promotion-requests/{request['id']}/approve")
    assert stale.status_code == 200 and stale.json["status"] == "stale"
    assert registry.holder() == 4
    assert registry.get("/events?type=promotion.stale")["items"][0]["data"] == {
        "request_id": request["id"], "expected_current_version": 1, "current_version": 4}


def test_requests_expire_reject_and_cancel(registry):
    require(registry, 1)
    first, second, third = (open_request(registry, version=v) for v in (2, 4, 2))
    with database.connection_context():
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=73)
        assert approval_service.expire_due(now=later) == {"expired": 3}
    late = assert_problem(registry.post("bob", f"/promotion-requests/{first['id']}/approve"), 409)
    assert "is expired" in late["detail"]
    fresh = open_request(registry)
    rejected = registry.post("bob", f"/promotion-requests/{fresh['id']}/reject",
                             comment="wait for the new dataset")
    assert rejected.json["status"] == "rejected" and rejected.json["decided_by"] == "token:bob"
    assert_problem(registry.post("carol", f"/promotion-requests/{fresh['id']}/approve"), 409)
    mine = open_request(registry)
    assert_problem(registry.post("bob", f"/promotion-requests/{mine['id']}/cancel"), 403)
    assert registry.post("alice", f"/promotion-requests/{mine['id']}/cancel").json[
        "status"] == "cancelled"
    statuses = {r["id"]: r["status"] for r in registry.get(
        "/models/fraud/promotion-requests")["items"]}
    assert statuses == {first["id"]: "expired", second["id"]: "expired", third["id"]: "expired",
                        fresh["id"]: "rejected", mine["id"]: "cancelled"}
    assert [r["id"] for r in registry.get("/promotion-requests?status=expired")["items"]] == [
        third["id"], second["id"], first["id"]]
    assert registry.holder() == 1


def test_what_cannot_be_requested(registry):
    refused = assert_problem(registry.post("alice", "/models/fraud/promotion-requests",
                                           version=2, reason="x"), 409)
    assert "needs no approval" in refused["detail"]
    require(registry, 1)
    weak = assert_problem(registry.post("alice", "/models/fraud/promotion-requests", version=3,
                                        reason="x"), 422)
    assert weak["type"].endswith("criteria-not-met") and not weak["evaluation"]["passed"]
    assert_problem(registry.post("alice", "/models/fraud/promotion-requests", version=1,
                                 reason="x"), 409)  # already holds production
    assert_problem(registry.post("alice", "/models/fraud/promotion-requests", version=2,
                                 stage="shadow", reason="x"), 404)
    bad = registry.client.patch("/api/v1/models/fraud", headers=registry.as_("admin"),
                                json={"approvals": {"shadow": {"required": 1}}})
    assert "approvals.shadow" in assert_problem(bad, 422)["errors"]
    assert_problem(registry.client.patch("/api/v1/models/fraud", headers=registry.as_("alice"),
                                         json={"approvals": {"production": {"required": 0}}}), 403)
    assert registry.client.get("/api/v1/promotion-requests/999",
                               headers=registry.as_("admin")).status_code == 404


def test_rollback_never_waits_for_approval(registry):
    require(registry, 2)
    registry.post("admin", "/models/fraud/promote", version=2, force=True, reason="setup")
    back = registry.post("alice", "/models/fraud/rollback", reason="pager")
    assert back.status_code == 200 and registry.holder() == 1


def test_eight_racing_approvals_promote_once(registry):
    require(registry, 1)
    for index in range(8):
        registry.add_token(f"approver-{index}")
    request = open_request(registry)

    def approve(index: int) -> int:
        client = registry.app.test_client()
        return client.post(f"/api/v1/promotion-requests/{request['id']}/approve", json={},
                           headers=registry.as_(f"approver-{index}")).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(approve, range(8)))
    assert sorted(statuses) == [200] + [409] * 7, statuses
    promoted = [e for e in registry.get("/events?type=model.promoted")["items"]
                if e["data"].get("request_id") == request["id"]]
    assert len(promoted) == 1 and registry.holder() == 2
    assert len(registry.get(f"/promotion-requests/{request['id']}")["approvals"]) == 1
