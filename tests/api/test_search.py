import pytest

from tests.api.helpers import assert_problem, create_model, create_version


@pytest.fixture
def catalog(client):
    """Two models, five versions with varied metrics, params, tags and run metadata."""
    create_model(client, "fraud")
    create_model(client, "churn")
    specs = [
        ("fraud", {"accuracy": 0.80}, {"lr": 0.1, "opt": "sgd"}, {"team": "risk"}, "d1"),
        ("fraud", {"accuracy": 0.95}, {"lr": 0.01, "opt": "adam"}, {"team": "risk"}, "d2"),
        ("fraud", {"loss": 0.3}, {"lr": 0.001, "opt": "adam"}, {}, "d2"),
        ("churn", {"accuracy": 0.91}, {"lr": 0.05}, {"team": "growth"}, "d9"),
        ("churn", {"accuracy": 0.70}, {}, {"team": "growth"}, None),
    ]
    for model, metrics, params, tags, digest in specs:
        run = {"metrics": metrics, "params": params}
        if digest:
            run["dataset"] = {"name": "tx", "digest": digest}
        create_version(client, model, run=run, tags=tags)
    return client


def versions(response):
    assert response.status_code == 200, response.json
    return [(item["model"], item["version"]) for item in response.json["items"]]


@pytest.mark.parametrize("query, expected", [
    ("filter=metrics.accuracy >= 0.9", [("fraud", 2)]),
    ("filter=metrics.accuracy > 0.5&order_by=metrics.accuracy desc", [("fraud", 2), ("fraud", 1)]),
    ("filter=params.opt = 'adam'&order_by=version", [("fraud", 2), ("fraud", 3)]),
    ("filter=params.lr < 0.05&order_by=params.lr", [("fraud", 3), ("fraud", 2)]),
    ("filter=run.dataset.digest = 'd2' and metrics.loss < 1", [("fraud", 3)]),
    ("filter=tags.team != 'risk'", []),
    ("filter=version >= 2 and stage = 'none'&order_by=version asc", [("fraud", 2), ("fraud", 3)]),
    ("filter=created_at > '2000-01-01T00:00:00Z'&order_by=version desc",
     [("fraud", 3), ("fraud", 2), ("fraud", 1)]),
    ("order_by=metrics.accuracy asc", [("fraud", 1), ("fraud", 2), ("fraud", 3)]),  # missing last
])
def test_search_one_model(catalog, query, expected):
    assert versions(catalog.get(f"/api/v1/models/fraud/versions?{query}")) == expected


def test_search_across_models(catalog):
    found = versions(catalog.get("/api/v1/versions?filter=metrics.accuracy > 0.85"
                                 "&order_by=metrics.accuracy desc"))
    assert found == [("fraud", 2), ("churn", 1)]
    assert versions(catalog.get("/api/v1/versions?filter=model = 'churn'&order_by=version")) == [
        ("churn", 1), ("churn", 2)]
    assert len(versions(catalog.get("/api/v1/versions"))) == 5


@pytest.mark.parametrize("order", ["metrics.accuracy desc", "metrics.accuracy asc", "version",
                                   "created_at desc", "params.lr", "tags.team desc"])
def test_cursor_pages_cover_everything_once(catalog, order):
    everything = versions(catalog.get(f"/api/v1/versions?order_by={order}&limit=1000"))
    seen = page_by_page(catalog, f"order_by={order}", 2)
    assert seen == everything and len(seen) == 5


def page_by_page(client, query: str, size: int) -> list:
    """Every version the query finds, following next_cursor `size` at a time."""
    seen, cursor = [], ""
    for _ in range(10):
        response = client.get(f"/api/v1/versions?{query}&limit={size}{cursor}")
        seen += versions(response)
        if not response.json["next_cursor"]:
            return seen
        cursor = f"&cursor={response.json['next_cursor']}"
    raise AssertionError("more pages than versions")


@pytest.mark.parametrize("query, expected", [
    ("filter=metrics.accuracy > 0.5&order_by=metrics.accuracy desc",
     [("fraud", 2), ("churn", 1), ("fraud", 1), ("churn", 2)]),
    ("filter=metrics.accuracy > 0.5 and params.lr < 0.2&order_by=metrics.accuracy",
     [("fraud", 1), ("churn", 1), ("fraud", 2)]),
    ("filter=metrics.accuracy >= 0.7 and metrics.accuracy < 0.95&order_by=metrics.accuracy desc",
     [("churn", 1), ("fraud", 1), ("churn", 2)]),
])
def test_sorting_by_a_filtered_metric_pages_through_everything_once(catalog, query, expected):
    """The sort reuses the filter's join (no NULLs there): pages must still line up."""
    assert page_by_page(catalog, query, 1) == expected


@pytest.mark.parametrize("query, status", [
    ("filter=metrics.accuracy >", 422),
    ("filter=nonsense", 422),
    ("order_by=metrics.accuracy upward", 422),
    ("cursor=not-a-cursor", 422),
    ("cursor=e30", 422),  # {} is valid JSON but not our cursor
    ("limit=1001", 422),
    ("limit=0", 422),
    ("stage=prod", 422),
])
def test_bad_search_requests(catalog, query, status):
    body = assert_problem(catalog.get(f"/api/v1/models/fraud/versions?{query}"), status)
    if query.startswith(("filter", "order_by")):
        assert "position" in body


def test_search_unknown_model(client):
    assert_problem(client.get("/api/v1/models/ghost/versions"), 404)


def _cursor(position: dict) -> str:
    import base64
    import json
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


@pytest.mark.parametrize("path, position", [
    ("/api/v1/models/fraud/versions?order_by=version", {"value": "abc", "id": 1}),
    ("/api/v1/models/fraud/versions?order_by=tags.team", {"value": 5, "id": 1}),
    ("/api/v1/models/fraud/versions?order_by=version", {"value": 1, "id": 10**30}),
    ("/api/v1/models/fraud/versions?order_by=metrics.accuracy", {"value": 1e400, "id": 1}),
    ("/api/v1/models", {"name": 5}),
    ("/api/v1/models/fraud/versions/1/metrics", {"at": "x", "id": 1}),
    ("/api/v1/models/fraud/versions/1/metrics", {"at": 1, "id": True}),
])
def test_tampered_cursors_are_422_not_500(catalog, path, position):
    separator = "&" if "?" in path else "?"
    assert_problem(catalog.get(f"{path}{separator}cursor={_cursor(position)}"), 422)


def test_a_page_is_exactly_what_its_schema_would_send(client):
    """Search pages skip marshmallow's dump for speed: they must equal the dumped page."""
    from registry.api.schemas import VersionPageSchema
    from tests.api.helpers import put_criteria, ready_version
    create_model(client, "fraud")
    put_criteria(client, production=[{"metric": "accuracy", "op": ">=", "threshold": 0.5}])
    run = {"params": {"lr": 0.1, "layers": 3, "flag": True, "name": "x"},
           "dataset": {"name": "tx", "digest": "d1", "version": "7"},
           "code": {"repo": "git@x", "commit": "abc", "branch": "main"},
           "environment": {"python": "3.11", "requirements": ["torch==2.13.0"]},
           "id": "r1", "experiment": "e", "started_at": "2026-11-28T10:00:00Z"}
    ready_version(client, metrics={"accuracy": 1, "loss": 0.25}, run=run, tags={"team": "risk"},
                  description="first")
    create_version(client, "fraud", run={"metrics": {"accuracy": 0.75}}, source_uri=None)
    files = client.put("/api/v1/models/fraud/versions/2/files/model.bin", data=b"w")
    assert files.status_code == 201
    for path in ("/api/v1/models/fraud/versions?order_by=metrics.accuracy desc",
                 "/api/v1/versions?filter=metrics.accuracy > 0.1&limit=1"):
        sent = client.get(path)
        assert sent.status_code == 200 and sent.mimetype == "application/json"
        assert sent.json == VersionPageSchema().dump(sent.json)
        assert sent.json["items"]
