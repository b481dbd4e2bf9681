"""Closing the loop on loopback: a real server, `modelyard agent` processes for targets of one
model's production, promotion and an Alertmanager alert that rolls back, convergence recorded
on the history rows, a failing deploy command, and an agent and the server SIGKILLed mid-rollout.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import ADMIN, Server, wait_for

class Agents:
    def __init__(self, server: Server, root: Path) -> None:
        self.server, self.root, self.processes = server, root, {}

    def start(self, target: str, model: str = "fraud", command: str | None = None) -> None:
        out = self.root / f"{target}.served"
        command = command or f'echo "$MODELYARD_VERSION" > {out}'
        env = {**os.environ, "MODELYARD_URL": self.server.url, "MODELYARD_TOKEN": ADMIN}
        self.processes[target] = subprocess.Popen(
            [sys.executable, "-m", "registry", "agent", "--model", model, "--target", target,
             "--dir", str(self.root / target), "--exec", command, "--heartbeat", "2",
             "--keep", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def served(self, target: str) -> str:
        path = self.root / f"{target}.served"
        return path.read_text().strip() if path.exists() else ""

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            process.wait(30)


def _seed(server: Server, model: str, versions: int) -> None:
    server.api("POST", "/models", name=model)
    for number in range(1, versions + 1):
        server.api("POST", f"/models/{model}/versions", run={"metrics": {"auc": 0.9}})
        answer = requests.put(f"{server.url}/api/v1/models/{model}/versions/{number}/files/m.bin",
                              data=f"weights {number}".encode() * 1000,
                              headers={"Authorization": f"Bearer {ADMIN}"})
        assert answer.status_code == 201
        server.api("POST", f"/models/{model}/versions/{number}/finalize")
    server.api("POST", f"/models/{model}/promote", version=1)


def _alertmanager(summary: str) -> dict:
    return {"version": "4", "status": "firing", "receiver": "modelyard", "groupKey": "{}:{}",
            "groupLabels": {"alertname": "FraudPrecisionDrop"}, "truncatedAlerts": 0,
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
            "alerts": [{"status": "firing", "labels": {"alertname": "FraudPrecisionDrop",
                                                       "model": "fraud", "severity": "page"},
                        "annotations": {"summary": summary},
                        "startsAt": "2026-12-02T03:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prom/graph", "fingerprint": "c0ffee0123"}]}


@pytest.fixture
def loop(tmp_path):
    """A server and the agents a test starts; every agent gets SIGTERM and must exit cleanly."""
    server = Server(tmp_path / "data")
    server.start()
    agents = Agents(server, tmp_path)
    try:
        yield server, agents
    finally:
        agents.stop_all()
        server.kill(signal.SIGTERM)
    assert all(process.returncode == 0 for process in agents.processes.values())


@pytest.mark.slow
def test_agents_follow_promotions_and_an_alert_rolls_back(loop, tmp_path):
    server, agents = loop
    _seed(server, "fraud", 2)
    server.api("PATCH", "/models/fraud", on_alert="rollback")
    targets = ["eu-1", "eu-2", "us-1"]
    for target in targets:
        agents.start(target)
    wait_for(lambda: [agents.served(t) for t in targets] == ["1"] * 3, "first deploy")

    server.api("POST", "/models/fraud/promote", version=2)
    wait_for(lambda: [agents.served(t) for t in targets] == ["2"] * 3, "v2 everywhere")
    wait_for(lambda: all(t["converged"] for t in server.api(
        "GET", "/models/fraud/deployments")["items"]), "converged on v2")
    table = subprocess.run([sys.executable, "-m", "registry", "deployments", "fraud"],
                           env={**os.environ, "MODELYARD_URL": server.url,
                                "MODELYARD_TOKEN": ADMIN}, capture_output=True, text=True,
                           timeout=60).stdout.splitlines()
    assert table[0].split()[:7] == ["MODEL", "TARGET", "STAGE", "DESIRED", "SERVING", "STATE",
                                    "CONVERGED"]
    assert [row.split()[1:7] for row in table[1:]] == [
        [target, "production", "2", "2", "serving", "yes"] for target in targets]

    outcome = server.api("POST", "/alerts/alertmanager", **_alertmanager("precision -12%"))
    assert outcome["results"][0]["rollback"] == {"from_version": 2, "to_version": 1}
    wait_for(lambda: [agents.served(t) for t in targets] == ["1"] * 3, "v1 everywhere")
    newest = lambda: server.api("GET", "/models/fraud/history?stage=production")["items"][0]
    wait_for(lambda: newest()["converged_s"] is not None, "rollback converged")
    move = newest()
    assert (move["action"], move["actor"], move["reason"]) == (
        "rollback", "alert:FraudPrecisionDrop", "precision -12%")
    assert 0 < move["converged_s"] < 30
    types = [e["type"] for e in server.api("GET", "/events?model=fraud&limit=1000")["items"]
             if e["type"] in ("alert.received", "model.rolled_back",
                              "deployment.converged")]
    assert types[-3:] == ["alert.received", "model.rolled_back", "deployment.converged"]

    again = server.api("POST", "/alerts/alertmanager", **_alertmanager("precision -12%"))
    assert again["results"][0]["duplicate"] is True
    assert server.api("GET", "/models/fraud/production")["version"] == 1
    assert len(server.api("GET", "/events?type=model.rolled_back")["items"]) == 1

    # SIGKILL one agent and the server mid-rollout; both come back and converge
    server.api("POST", "/models/fraud/promote", version=2, reason="fixed")
    os.killpg(agents.processes["eu-1"].pid, signal.SIGKILL)
    agents.processes.pop("eu-1").wait(30)
    server.kill()
    server.start()
    agents.start("eu-1")
    wait_for(lambda: [agents.served(t) for t in targets] == ["2"] * 3, "v2 after restarts")
    wait_for(lambda: newest()["converged_s"] is not None, "converged after restarts")
    assert sorted(p.name for p in (tmp_path / "eu-2" / "versions").iterdir()) == ["1", "2"]


@pytest.mark.slow
def test_a_failing_deploy_command_reports_failed_and_keeps_the_previous_version(loop, tmp_path):
    server, agents = loop
    _seed(server, "churn", 2)
    served = tmp_path / "edge.served"
    agents.start("edge", model="churn", command=(
        f'[ "$MODELYARD_VERSION" != 2 ] || {{ echo "health check failed" >&2; exit 3; }}; '
        f'echo "$MODELYARD_VERSION" > {served}'))
    wait_for(lambda: agents.served("edge") == "1", "first deploy")
    server.api("POST", "/models/churn/promote", version=2)
    target = lambda: server.api("GET", "/models/churn/deployments")["items"][0]
    wait_for(lambda: target()["state"] == "failed", "failed report")
    failed = target()
    assert failed["version"] == 2 and not failed["converged"]
    assert "status 3" in failed["detail"] and "health check failed" in failed["detail"]
    assert os.readlink(tmp_path / "edge" / "current") == "versions/1"
    assert agents.served("edge") == "1"
