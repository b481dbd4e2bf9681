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
