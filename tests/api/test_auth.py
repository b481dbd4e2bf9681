"""Auth: every documented route × no token, a wrong token, a revoked token and each role."""
import re

import pytest

from registry.app import create_app
from registry.db import database
from registry.services import audit as audit_service
from registry.services import tokens as token_service

ADMIN_SEED = "seeded-admin-token-0123456789abcdefghij"
ROLES = ("viewer", "editor", "deployer", "admin")
SAMPLE = {"model": "m", "version": "1", "stage": "production", "path": "a.bin",
          "webhook_id": "1", "delivery_id": "1", "token_id": "999", "report_id": "1",
          "request_id": "1", "target": "eu-1",
          "job": "reevaluate"}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def secured(backend):
    app = create_app({**backend, "auth": {"enabled": True, "admin_token": ADMIN_SEED}},
                     environ={})
    client = app.test_client()
    issued = {}
    for role in ROLES:
        response = client.post("/api/v1/tokens", json={"name": f"{role}-bot", "role": role},
                               headers=bearer(ADMIN_SEED))
        assert response.status_code == 201, response.json
        issued[role] = response.json["token"]
    revoked = client.post("/api/v1/tokens", json={"name": "old", "role": "admin"},
                          headers=bearer(ADMIN_SEED)).json
    assert client.delete(f"/api/v1/tokens/{revoked['id']}",
                         headers=bearer(ADMIN_SEED)).status_code == 200
    issued["revoked"] = revoked["token"]
    return client, issued


def _operations(client):
    spec = client.get("/api/v1/openapi.json").json
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if method in ("get", "post", "put", "patch", "delete"):
                url = re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], path)
                yield method, url, operation


def _call(client, method, url, headers):
    if method == "put":
        return client.put(url, data=b"bytes", headers=headers)
    if method in ("post", "patch"):
        return client.open(url, method=method.upper(), json={}, headers=headers)
    return client.open(url, method=method.upper(), headers=headers)


def test_every_route_declares_its_role_and_documents_401_403(secured):
    client, _ = secured
    operations = list(_operations(client))
    assert len(operations) > 35
    for method, url, operation in operations:
        assert operation["x-required-role"] in ROLES, (method, url)
        assert operation["security"] == [{"bearerAuth": []}]
        assert {"401", "403"} <= set(operation["responses"]), (method, url)


def test_role_matrix(secured):
    client, issued = secured
    for method, url, operation in _operations(client):
        needed = ROLES.index(operation["x-required-role"])
        for label, headers in (("none", {}), ("wrong", bearer("myd_not-a-token")),
                               ("revoked", bearer(issued["revoked"]))):
            response = _call(client, method, url, headers)
            assert response.status_code == 401, (label, method, url, response.status_code)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert response.json["detail"] == "A valid API token is required: send " \
                                              "Authorization: Bearer <token>."
        for index, role in enumerate(ROLES):
            response = _call(client, method, url, bearer(issued[role]))
            if index < needed:
                assert response.status_code == 403, (role, method, url, response.status_code)
                assert response.json["required_role"] == operation["x-required-role"]
            else:
                assert response.status_code not in (401, 403), (role, method, url)
                assert response.status_code < 500, (role, method, url, response.data[:300])


def test_public_routes_need_no_token(secured):
    client, _ = secured
    for url in ("/healthz", "/readyz", "/api/v1/openapi.json", "/metrics"):
        assert client.get(url).status_code == 200, url


def test_forced_promotion_needs_admin_and_the_actor_is_the_token(secured):
    client, issued = secured
    admin, deployer = bearer(issued["admin"]), bearer(issued["deployer"])
    client.post("/api/v1/models", json={"name": "m"}, headers=admin)
    client.put("/api/v1/models/m/criteria", json={"stages": {"production": [
        {"metric": "accuracy", "op": ">=", "threshold": 0.9}]}}, headers=admin)
    client.post("/api/v1/models/m/versions", json={"source_uri": "s3://b/m"}, headers=admin)
    client.post("/api/v1/models/m/versions/1/finalize", headers=admin)
    body = {"version": 1, "force": True, "reason": "incident"}
    refused = client.post("/api/v1/models/m/promote", json=body, headers=deployer)
    assert refused.status_code == 403 and refused.json["required_role"] == "admin"
    assert client.post("/api/v1/models/m/promote", json={"version": 1},
                       headers=deployer).status_code == 422
    moved = client.post("/api/v1/models/m/promote", json=body, headers=admin)
    assert moved.status_code == 200
    move = client.get("/api/v1/models/m/history", headers=deployer).json["items"][0]
    assert move["actor"] == "token:admin-bot" and move["forced"]


def test_tokens_are_stored_hashed_shown_once_and_last_use_is_kept(secured):
    client, issued = secured
    listed = client.get("/api/v1/tokens", headers=bearer(issued["admin"])).json
    assert all("token" not in item for item in listed)
    assert {item["name"] for item in listed} >= {"viewer-bot", "admin-bot", "old"}
    with database.connection_context():
        stored = [row.token_hash for row in token_service.ApiToken.select()]
    assert token_service.digest(issued["viewer"]) in stored and issued["viewer"] not in stored
    viewer = next(item for item in listed if item["name"] == "viewer-bot")
    client.get("/api/v1/models", headers=bearer(issued["viewer"]))
    listed = client.get("/api/v1/tokens", headers=bearer(issued["admin"])).json
    assert next(i for i in listed if i["id"] == viewer["id"])["last_used_at"] is not None


def test_every_mutation_is_audited_with_who_and_from_where(secured):
    client, issued = secured
    editor = {**bearer(issued["editor"]), "X-Request-Id": "req-42"}
    client.post("/api/v1/models", json={"name": "audited"}, headers=editor)
    client.patch("/api/v1/models/audited", json={"description": "d"}, headers=editor)
    page = client.get("/api/v1/audit?model=audited", headers=bearer(issued["admin"])).json
    first, second = page["items"][1], page["items"][0]
    assert (first["action"], second["action"]) == ("model.created", "model.updated")
    assert first["actor"] == "token:editor-bot" and first["request_id"] == "req-42"
    assert first["client_address"] == "127.0.0.1"
    assert second["previous_hash"] == first["hash"]
    by_actor = client.get("/api/v1/audit?actor=token:editor-bot&action=model.updated",
                          headers=bearer(issued["admin"])).json["items"]
    assert [r["seq"] for r in by_actor] == [second["seq"]]
    assert client.get("/api/v1/audit", headers=bearer(issued["editor"])).status_code == 403


def test_audit_verify_detects_tampering_and_deletion(secured):
    client, issued = secured
    for name in ("a", "b", "c"):
        client.post("/api/v1/models", json={"name": name}, headers=bearer(issued["admin"]))
    with database.connection_context():
        assert audit_service.verify() == []
        records = list(audit_service.AuditRecord.select().order_by(audit_service.AuditRecord.seq))
        middle, last = records[len(records) // 2], records[-1]
        (audit_service.AuditRecord.update(actor="someone-else")
         .where(audit_service.AuditRecord.seq == middle.seq).execute())
        assert f"record {middle.seq} was altered" in audit_service.verify()
        (audit_service.AuditRecord.update(actor=middle.actor)
         .where(audit_service.AuditRecord.seq == middle.seq).execute())
        audit_service.AuditRecord.delete().where(audit_service.AuditRecord.seq == middle.seq).execute()
        problems = audit_service.verify()
        assert any("missing" in p for p in problems) and any("does not follow" in p for p in problems)
        audit_service.AuditRecord.delete().where(audit_service.AuditRecord.seq == last.seq).execute()
        assert any(f"records after {last.seq - 1} are missing" in p for p in audit_service.verify())


def test_webhook_changes_are_audited_without_their_secret(secured):
    client, issued = secured
    admin = bearer(issued["admin"])
    created = client.post("/api/v1/webhooks", json={"url": "https://hooks.example.com/x",
                                                    "events": ["*"]}, headers=admin).json
    client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", headers=admin)
    client.delete(f"/api/v1/webhooks/{created['id']}", headers=admin)
    items = client.get("/api/v1/audit?actor=token:admin-bot", headers=admin).json["items"]
    actions = [item["action"] for item in items][:3]
    assert actions == ["webhook.deleted", "webhook.secret_rotated", "webhook.created"]
    assert all("whsec_" not in str(item["summary"]) for item in items)


def test_a_model_can_require_admin_for_every_production_move(secured):
    client, issued = secured
    admin, deployer = bearer(issued["admin"]), bearer(issued["deployer"])
    client.post("/api/v1/models", json={"name": "guarded"}, headers=admin)
    for _ in range(2):
        client.post("/api/v1/models/guarded/versions", json={"source_uri": "s3://b"}, headers=admin)
    for number in (1, 2):
        client.post(f"/api/v1/models/guarded/versions/{number}/finalize", headers=admin)
    for setting in ({"production_requires_admin": True}, {"on_degraded": "rollback"}):
        refused = client.patch("/api/v1/models/guarded", json=setting, headers=deployer)
        assert refused.status_code == 403 and refused.json["required_role"] == "admin"
    assert client.get("/api/v1/models/guarded", headers=admin).json["on_degraded"] == "notify"
    assert client.patch("/api/v1/models/guarded", json={"production_requires_admin": True},
                        headers=admin).json["production_requires_admin"] is True
    promote = client.post("/api/v1/models/guarded/promote", json={"version": 1}, headers=deployer)
    assert promote.status_code == 403 and promote.json["required_role"] == "admin"
    staging = client.post("/api/v1/models/guarded/promote", json={"version": 1, "stage": "staging"},
                          headers=deployer)
    assert staging.status_code == 200  # staging is not protected by the setting
    assert client.post("/api/v1/models/guarded/promote", json={"version": 2},
                       headers=admin).status_code == 200
    assert client.post("/api/v1/models/guarded/rollback", json={},
                       headers=deployer).status_code == 403
    assert client.post("/api/v1/models/guarded/versions/2/stage", json={"stage": "archived"},
                       headers=deployer).status_code == 403


def test_audit_records_keep_what_changed_from_what(secured):
    client, issued = secured
    admin = bearer(issued["admin"])
    client.post("/api/v1/models", json={"name": "b", "description": "old",
                                        "tags": {"team": "risk"}}, headers=admin)
    client.patch("/api/v1/models/b", json={"description": "new"}, headers=admin)
    record = client.get("/api/v1/audit?action=model.updated", headers=admin).json["items"][0]
    assert record["summary"]["before"]["description"] == "old"
    assert record["summary"]["before"]["tags"] == {"team": "risk"}
    assert record["summary"]["description"] == "new"
