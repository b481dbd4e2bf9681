"""Deployment targets and alerts through the API, on both databases: reports and heartbeats,
desired against actual, convergence once per move on the history row, lagging once per move
and target, alerts applying the model's policy once per notification."""
from __future__ import annotations

import datetime as dt

from registry.db import database
from registry.services.deployments import check_lagging
from tests.api.helpers import assert_problem, create_model, promote, ready_version


def report(client, target, version, state="serving", **extra):
    return client.put(f"/api/v1/models/fraud/deployments/{target}",
                      json={"version": version, "state": state, **extra})


def fraud(client, versions=3):
    create_model(client)
    for _ in range(versions):
        ready_version(client)
    assert promote(client, version=1).status_code == 200


def events(client, type_):
    return client.get(f"/api/v1/events?type={type_}").json["items"]


def test_reports_heartbeats_and_convergence(client):
    fraud(client)
    first = report(client, "eu-1", 1)
    assert first.status_code == 200
    assert (first.json["desired_version"], first.json["converged"]) == (1, True)
    again = report(client, "eu-1", 1)
    assert again.json["last_seen"] >= first.json["last_seen"]
    assert again.json["since"] == first.json["since"]
    assert len(events(client, "deployment.reported")) == 1  # the heartbeat is no event
    report(client, "us-1", 1)
    promote(client, version=2)
    lagging = client.get("/api/v1/deployments?converged=false").json["items"]
    assert [(t["target"], t["desired_version"], t["version"]) for t in lagging] == [
        ("eu-1", 2, 1), ("us-1", 2, 1)]
    report(client, "eu-1", 2)
    assert events(client, "deployment.converged")[-1]["data"]["version"] == 1
    report(client, "us-1", 2, state="pending")
    report(client, "us-1", 2)
    [converged] = [e for e in events(client, "deployment.converged") if e["version"] == 2]
    assert converged["data"]["targets"] == ["eu-1", "us-1"] and converged["data"]["seconds"] >= 0
    move = client.get("/api/v1/models/fraud/history?stage=production").json["items"][0]
    assert move["converged_at"] and move["converged_s"] == converged["data"]["seconds"]
    report(client, "us-1", 2, detail="restarted")  # a change, but the move converged already
    assert len([e for e in events(client, "deployment.converged") if e["version"] == 2]) == 1
    assert client.delete("/api/v1/models/fraud/deployments/us-1").status_code == 204
    assert_problem(client.delete("/api/v1/models/fraud/deployments/us-1"), 404)


def test_reports_that_cannot_be_taken(client):
    fraud(client)
    assert_problem(report(client, "eu-1", 9), 404)
    assert_problem(report(client, "eu-1", 1, stage="shadow"), 404)
    assert "target" in assert_problem(report(client, "eu 1!", 1), 422)["errors"]
    assert_problem(report(client, "eu-1", 1, state="running"), 422)


def test_lagging_is_raised_once_per_move_and_target(app, client):
    fraud(client)
    report(client, "eu-1", 1)
    report(client, "us-1", 1)
    promote(client, version=2)
    report(client, "eu-1", 2)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=400)
    with database.connection_context():
        assert check_lagging(timeout_s=300, stale_after_s=3600, now=later) == {"lagging": 1}
        assert check_lagging(timeout_s=300, stale_after_s=3600, now=later) == {"lagging": 0}
    [lag] = events(client, "deployment.lagging")
    assert lag["data"]["target"] == "us-1" and lag["data"]["desired_version"] == 2
    assert "not serving version 2" in lag["data"]["reason"]
    silent = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=200)
    with database.connection_context():
        check_lagging(timeout_s=3600, stale_after_s=120, now=silent)
    assert {e["data"]["target"] for e in events(client, "deployment.lagging")} == {"eu-1", "us-1"}


def alert(client, status="firing", starts_at="2026-12-02T03:00:00Z", **extra):
    return client.post("/api/v1/models/fraud/alerts", json={
        "name": "PrecisionDrop", "status": status, "summary": "precision -12%",
        "fingerprint": "abc", "starts_at": starts_at, **extra})


def test_alerts_follow_the_models_policy_once(client):
    fraud(client)
    promote(client, version=2)
    notified = alert(client).json
    assert (notified["action"], notified["duplicate"]) == ("notify", False)
    client.patch("/api/v1/models/fraud", json={"on_alert": "rollback"})
    assert alert(client).json["duplicate"] is True  # same fingerprint and startsAt
    rolled = alert(client, starts_at="2026-12-02T04:00:00Z").json
    assert rolled["rollback"] == {"from_version": 2, "to_version": 1}
    move = client.get("/api/v1/models/fraud/history").json["items"][0]
    assert (move["actor"], move["reason"]) == ("alert:PrecisionDrop", "precision -12%")
    # version 1 came back by rollback and has not passed since: a new alert does not walk on
    kept = alert(client, starts_at="2026-12-02T05:00:00Z").json
    assert "not rolled back" in kept["action"] and "rollback" not in kept
    assert alert(client, status="resolved", starts_at="2026-12-02T05:00:00Z").json[
        "action"] == "recorded"
    assert client.get("/api/v1/models/fraud/production").json["version"] == 1
    received = events(client, "alert.received")
    assert len(received) == 4 and received[1]["actor"] == "alert:PrecisionDrop"


def test_alertmanager_payloads(client):
    fraud(client)
    client.patch("/api/v1/models/fraud", json={"on_alert": "rollback"})
    promote(client, version=2)
    body = {"version": "4", "status": "firing", "receiver": "modelyard", "groupLabels": {},
            "alerts": [
                {"status": "firing", "labels": {"alertname": "Drop", "model": "fraud"},
                 "annotations": {"summary": "drop"}, "startsAt": "2026-12-02T03:00:00Z",
                 "fingerprint": "f1", "generatorURL": "http://prom"},
                {"status": "firing", "labels": {"alertname": "DiskFull"},
                 "startsAt": "2026-12-02T03:00:00Z", "fingerprint": "f2"},
                {"status": "firing", "labels": {"alertname": "Drop", "model": "nope"},
                 "startsAt": "2026-12-02T03:00:00Z", "fingerprint": "f3"}]}
    results = client.post("/api/v1/alerts/alertmanager", json=body).json["results"]
    assert results[0]["rollback"] == {"from_version": 2, "to_version": 1}
    assert results[1]["ignored"] == "no `model` label"
    assert "does not exist" in results[2]["ignored"]
    long_name = {**body["alerts"][0], "labels": {"alertname": "x" * 300, "model": "fraud"},
                 "fingerprint": "f4"}
    [too_long] = client.post("/api/v1/alerts/alertmanager",
                             json={"alerts": [long_name]}).json["results"]
    assert "1 to 256 characters" in too_long["ignored"]
    assert_problem(client.post("/api/v1/models/fraud/alerts",
                               json={"name": "x" * 300, "status": "firing"}), 422)
    again = client.post("/api/v1/alerts/alertmanager", json=body).json["results"]
    assert again[0]["duplicate"] is True
    assert client.get("/api/v1/models/fraud/production").json["version"] == 1
