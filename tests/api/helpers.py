"""Small helpers shared by API tests."""
from __future__ import annotations


def create_model(client, name="fraud", **extra):
    response = client.post("/api/v1/models", json={"name": name, **extra})
    assert response.status_code == 201, response.json
    return response.json


def create_version(client, model="fraud", headers=None, **body):
    response = client.post(f"/api/v1/models/{model}/versions", json=body, headers=headers or {})
    assert response.status_code == 201, response.json
    return response.json


def assert_problem(response, status):
    assert response.status_code == status, (response.status_code, response.data[:500])
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["instance"].startswith("urn:uuid:")
    return body


def ready_version(client, model="fraud", metrics=None, **body):
    """A finalized version (no files: it points at a source_uri) with the given metrics."""
    body.setdefault("source_uri", "s3://bucket/model")
    run = body.pop("run", {})
    view = create_version(client, model, run={**run, "metrics": metrics or {}}, **body)
    response = client.post(f"/api/v1/models/{model}/versions/{view['version']}/finalize")
    assert response.status_code == 200, response.json
    return response.json


def put_criteria(client, model="fraud", **stages):
    response = client.put(f"/api/v1/models/{model}/criteria", json={"stages": stages})
    assert response.status_code == 200, response.json
    return response.json


def promote(client, model="fraud", headers=None, **body):
    return client.post(f"/api/v1/models/{model}/promote", json=body, headers=headers or {})
