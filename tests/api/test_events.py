import threading
import time

from tests.api.helpers import create_model, create_version


def test_every_mutation_appends_one_event(client):
    create_model(client, "fraud")
    create_version(client, "fraud")
    client.patch("/api/v1/models/fraud", json={"description": "d"})
    client.patch("/api/v1/models/fraud/versions/1", json={"tags": {"a": "b"}})
    client.post("/api/v1/models/fraud/versions/1/metrics", json={"metrics": {"acc": 1}})
    client.post("/api/v1/models/fraud/versions/1/stage", json={"stage": "archived"})
    client.post("/api/v1/models", json={"name": "fraud"})  # a failed call appends nothing
    client.delete("/api/v1/models/fraud")
    events = client.get("/api/v1/events").json["items"]
    assert [e["type"] for e in events] == [
        "model.created", "version.created", "model.updated", "version.updated",
        "metrics.recorded", "stage.changed", "model.deleted"]
    assert [e["seq"] for e in events] == list(range(1, 8))
    assert len({e["id"] for e in events}) == 7


def test_filters_and_after(client):
    create_model(client, "a")
    create_model(client, "b")
    create_version(client, "b")
    assert [e["seq"] for e in client.get("/api/v1/events?model=b").json["items"]] == [2, 3]
    assert [e["type"] for e in client.get("/api/v1/events?after=2").json["items"]] == [
        "version.created"]
    assert client.get("/api/v1/events?type=model.created").json["last_seq"] == 2


def test_long_poll_returns_when_an_event_commits(app):
    poller = app.test_client()
    create_model(app.test_client(), "a")
    result = {}

    def poll():
        started = time.monotonic()
        result["body"] = poller.get("/api/v1/events?after=1&wait=10").json
        result["waited"] = time.monotonic() - started

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)
    create_version(app.test_client(), "a")
    thread.join(15)
    assert [e["type"] for e in result["body"]["items"]] == ["version.created"]
    assert 0.4 < result["waited"] < 5


def test_long_poll_times_out_empty(client):
    started = time.monotonic()
    body = client.get("/api/v1/events?after=0&wait=0.3").json
    assert body == {"items": [], "last_seq": 0} and time.monotonic() - started >= 0.3
