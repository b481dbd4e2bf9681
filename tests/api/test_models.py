from tests.api.helpers import assert_problem, create_model, create_version


def test_create_get_list_model(client):
    created = create_model(client, "fraud", description="card fraud", tags={"team": "risk"})
    assert created["name"] == "fraud" and created["tags"] == {"team": "risk"}
    assert created["latest_version"] is None and created["production"] is None
    assert client.get("/api/v1/models/fraud").json == created
    listed = client.get("/api/v1/models").json
    assert [m["name"] for m in listed["items"]] == ["fraud"] and listed["next_cursor"] is None


def test_duplicate_name_conflicts(client):
    create_model(client, "fraud")
    assert_problem(client.post("/api/v1/models", json={"name": "fraud"}), 409)


def test_list_filters_and_pages(client):
    for name, team in [("a-fraud", "risk"), ("b-churn", "growth"), ("c-fraud2", "risk")]:
        create_model(client, name, tags={"team": team})
    names = lambda r: [m["name"] for m in r.json["items"]]  # noqa: E731
    assert names(client.get("/api/v1/models?q=fraud")) == ["a-fraud", "c-fraud2"]
    assert names(client.get("/api/v1/models?tag=team:growth")) == ["b-churn"]
    assert names(client.get("/api/v1/models?q=%25")) == []  # LIKE wildcards are literal
    first = client.get("/api/v1/models?limit=2").json
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get(f"/api/v1/models?limit=2&cursor={first['next_cursor']}").json
    assert [m["name"] for m in second["items"]] == ["c-fraud2"] and second["next_cursor"] is None


def test_patch_merges_tags(client):
    create_model(client, "fraud", tags={"team": "risk", "tier": "1"})
    patched = client.patch("/api/v1/models/fraud",
                           json={"description": "new", "tags": {"tier": None, "owner": "ana"}})
    assert patched.status_code == 200
    assert patched.json["tags"] == {"team": "risk", "owner": "ana"}
    assert patched.json["description"] == "new"


def test_delete_model_and_its_versions(client):
    create_model(client, "fraud")
    create_version(client, "fraud")
    assert client.delete("/api/v1/models/fraud").status_code == 204
    assert_problem(client.get("/api/v1/models/fraud"), 404)
    create_model(client, "fraud")
    assert create_version(client, "fraud")["version"] == 1  # a new model starts again


def test_unknown_model_is_404(client):
    assert_problem(client.get("/api/v1/models/ghost"), 404)
    assert_problem(client.patch("/api/v1/models/ghost", json={}), 404)
    assert_problem(client.delete("/api/v1/models/ghost"), 404)
