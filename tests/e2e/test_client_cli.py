"""The Python client and the `modelyard` command line against a real server process on
loopback, with auth on: register a folder, promote, roll back, download and verify."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from registry.client import (ChecksumMismatch, Client, Conflict, CriteriaNotMet, NotFound,
                             PreconditionFailed, Unauthorized)
from tests.e2e.conftest import free_port, running

ADMIN = "e2e-admin-token-0123456789abcdefghijkl"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"MODELYARD_AUTH_ENABLED": "true", "MODELYARD_ADMIN_TOKEN": ADMIN,
           "MODELYARD_SCHEDULE_RUN_IN_SERVE": "false", "MODELYARD_WEBHOOK_ALLOW_HTTP": "true",
           "MODELYARD_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]'}
    with running([sys.executable, "-m", "registry", "serve", "--port", str(port), "--data-dir",
                  str(data)], url, env=env):
        yield {"url": url, "data": data}


def model_folder(root: Path, seed: bytes) -> Path:
    folder = root / "model"
    (folder / "tokenizer").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(seed * 300_000)
    (folder / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    return folder


def tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file()}


def test_client_register_promote_rollback_download(server, tmp_path):
    client = Client(server["url"], ADMIN)
    first = client.register("churn", model_folder(tmp_path / "a", b"v1"),
                            metrics={"accuracy": 0.91}, params={"lr": 0.01})
    assert first["status"] == "ready"
    assert sorted(f["path"] for f in first["files"]) == ["tokenizer/vocab.txt", "weights.bin"]
    client.promote("churn", first["version"])
    client.set_criteria("churn", {"production": [{"metric": "accuracy", "op": ">=",
                                                  "threshold": 0.9}]})
    weak = client.register("churn", model_folder(tmp_path / "b", b"v2"), metrics={"accuracy": 0.5})
    with pytest.raises(CriteriaNotMet) as refused:
        client.promote("churn", weak["version"])
    assert refused.value.evaluation["results"][0]["message"] == \
        "accuracy is 0.5 but it must be at least 0.9."
    second = client.register("churn", model_folder(tmp_path / "c", b"v3"), metrics={"accuracy": 0.95})
    with pytest.raises(PreconditionFailed) as stale:
        client.promote("churn", second["version"], expected_current_version=99)
    assert stale.value.current_version == first["version"]
    client.promote("churn", second["version"], expected_current_version=first["version"])
    assert client.production("churn")["version"] == second["version"]

    rolled = client.rollback("churn", reason="alert")
    assert (rolled["version"], rolled["rolled_back_version"]) == (first["version"], second["version"])
    assert [m["action"] for m in client.history("churn", stage="production")] == [
        "rollback", "promote", "promote"]
    with pytest.raises(Conflict):  # version 1 has no earlier holder
        client.rollback("churn")

    deployed = client.download("churn", "production", tmp_path / "deployed")
    assert deployed["version"] == first["version"]
    assert tree(tmp_path / "deployed") == tree(tmp_path / "a" / "model")
    client.download("churn", second["version"], tmp_path / "v3")
    assert tree(tmp_path / "v3") == tree(tmp_path / "c" / "model")


def test_progress_bars_go_to_standard_error(server, tmp_path, capfd):
    client = Client(server["url"], ADMIN, progress=True)
    version = client.register("shown", model_folder(tmp_path, b"pp"))
    client.download("shown", version["version"], tmp_path / "out")
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err.count("weights.bin") >= 2
    assert tree(tmp_path / "out") == tree(tmp_path / "model")


def test_a_corrupted_blob_is_caught_and_not_kept(server, tmp_path):
    client = Client(server["url"], ADMIN)
    version = client.register("corrupt", model_folder(tmp_path, b"xy"))
    sha256 = version["files"][1]["sha256"]  # weights.bin
    blob = next(Path(server["data"]).rglob(f"sha256/{sha256[:2]}/{sha256[2:]}"))
    blob.write_bytes(b"yx" * 300_000)  # same size: only the hash can tell
    with pytest.raises(ChecksumMismatch):
        client.download("corrupt", version["version"], tmp_path / "out")
    assert not (tmp_path / "out" / "weights.bin").exists()
    assert not list((tmp_path / "out").glob("*.part"))


def test_typed_errors_and_the_event_feed(server):
    client = Client(server["url"], ADMIN)
    with pytest.raises(NotFound):
        client.get_model("no-such-model")
    with pytest.raises(Unauthorized):
        Client(server["url"], "myd_wrong").list_models()
    client.ensure_model("feed")
    seen = [e["type"] for e in client.events(model="feed")]
    assert seen == ["model.created"]
    last = max(e["seq"] for e in client.events())

    def later():
        time.sleep(0.5)
        client.update_model("feed", description="changed")
    threading.Thread(target=later).start()
    follow = client.events(after=last, follow=True, wait=5)
    assert next(follow)["type"] == "model.updated"


def test_retries_honour_retry_after_and_spare_unkeyed_posts(httpserver):
    httpserver.expect_ordered_request("/api/v1/models/m").respond_with_data(
        "busy", status=503, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request("/api/v1/models/m").respond_with_json({"name": "m"})
    client = Client(httpserver.url_for("/").rstrip("/"), "t")
    started = time.monotonic()
    assert client.get_model("m") == {"name": "m"}
    assert time.monotonic() - started >= 1.0
    httpserver.clear()
    httpserver.expect_request("/api/v1/reports", method="POST").respond_with_data(
        "busy", status=503)
    with pytest.raises(Exception):
        client.create_report()
    assert len(httpserver.log) == 1  # a POST without an Idempotency-Key is never resent
    httpserver.clear()
    httpserver.expect_ordered_request("/api/v1/models/m/rollback", method="POST").respond_with_data(
        "busy", status=503)
    httpserver.expect_ordered_request("/api/v1/models/m/rollback", method="POST").respond_with_json(
        {"version": 1})
    assert client.rollback("m") == {"version": 1}
    keys = {request.headers["Idempotency-Key"] for request, _ in httpserver.log}
    assert len(httpserver.log) == 2 and len(keys) == 1  # resent with the same key


def cli(server, *args, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "MODELYARD_URL": server["url"], "MODELYARD_TOKEN": ADMIN,
                   **(env or {})}
    return subprocess.run([sys.executable, "-m", "registry", *args], env=environment, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_cli_exit_codes_a_script_can_act_on(server, tmp_path):
    assert cli(server, "models", "show", "nope").returncode == 3
    assert cli(server, "models", "list", env={"MODELYARD_TOKEN": "myd_wrong"}).returncode == 6
    assert cli(server, "models", "list", env={"MODELYARD_URL": "http://127.0.0.1:9"}).returncode == 7
    registered = cli(server, "versions", "register", str(model_folder(tmp_path, b"q")),
                     "--model", "gated", "--metric", "auc=0.5", "--json")
    assert registered.returncode == 0, registered.stderr
    assert json.loads(registered.stdout)["status"] == "ready"
    Client(server["url"], ADMIN).set_criteria("gated", {"production": [
        {"metric": "auc", "op": ">=", "threshold": 0.8}]})
    refused = cli(server, "promote", "gated", "1")
    assert refused.returncode == 5 and "FAIL  auc is 0.5 but it must be at least 0.8." in refused.stderr
    as_json = cli(server, "promote", "gated", "1", "--json")
    assert as_json.returncode == 5 and json.loads(as_json.stdout)["evaluation"]["passed"] is False
    assert cli(server, "rollback", "gated").returncode == 4
    bad = cli(server, "versions", "register", str(tmp_path), "--model", "gated", "--metric", "x=high")
    assert bad.returncode == 2 and "not a number" in bad.stderr


def test_url_and_token_come_from_arguments_then_environment_then_the_config_file(
        tmp_path, monkeypatch):
    from registry.client import client_settings

    config = tmp_path / "client.toml"
    config.write_text('url = "http://models.internal:8080/"\ntoken = "myd_from_file"\n')
    monkeypatch.setenv("MODELYARD_CLIENT_CONFIG", str(config))
    monkeypatch.delenv("MODELYARD_URL", raising=False)
    monkeypatch.delenv("MODELYARD_TOKEN", raising=False)
    assert client_settings() == ("http://models.internal:8080", "myd_from_file")
    monkeypatch.setenv("MODELYARD_URL", "http://env:1")
    monkeypatch.setenv("MODELYARD_TOKEN", "myd_from_env")
    assert client_settings() == ("http://env:1", "myd_from_env")
    assert client_settings("http://flag:2", "myd_flag") == ("http://flag:2", "myd_flag")
    monkeypatch.setenv("MODELYARD_CLIENT_CONFIG", str(tmp_path / "missing.toml"))
    monkeypatch.delenv("MODELYARD_URL")
    assert client_settings()[0] == "http://127.0.0.1:8080"


def test_every_cli_command_family_against_the_server(server, tmp_path, httpserver):
    """models, versions, status, history --at, events, webhooks, reports, schedules: --json
    answers a script can parse, and the webhook really is delivered."""
    def ok(*args) -> Any:
        result = cli(server, *args, "--json")
        assert result.returncode == 0, (args, result.stderr)
        try:
            return json.loads(result.stdout)
        except ValueError:  # JSON lines (events tail)
            return [json.loads(line) for line in result.stdout.splitlines()]

    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    hook = ok("webhooks", "create", httpserver.url_for("/hook"), "--event", "*",
              "--model", "family")
    assert hook["secret"].startswith("whsec_")
    ok("versions", "register", str(model_folder(tmp_path, b"f")), "--model", "family",
       "--metric", "auc=0.9", "--tag", "team=risk", "--dataset", "tx", "--commit", "abc")
    ok("promote", "family", "1")
    assert [m["name"] for m in ok("models", "list", "--q", "family")] == ["family"]
    assert ok("models", "show", "family")["production"]["version"] == 1
    listed = ok("versions", "list", "--filter", "metrics.auc > 0.5 and tags.team = 'risk'")
    assert [(v["model"], v["version"]) for v in listed] == [("family", 1)]
    assert ok("versions", "show", "family", "1")["run"]["code"]["commit"] == "abc"
    assert ok("status", "family")["production"]["evaluation"]["passed"] is True
    moves = ok("history", "family")
    assert ok("history", "family", "--at", moves[0]["at"])["version"] == 1
    events = ok("events", "tail", "--model", "family")
    assert [e["type"] for e in events][-1] == "model.promoted"
    assert ok("webhooks", "show", str(hook["id"]))["url"].endswith("/hook")
    assert [w["id"] for w in ok("webhooks", "list")] == [hook["id"]]
    ok("webhooks", "test", str(hook["id"]))
    deadline = time.monotonic() + 10
    while not any(d["status"] == "delivered" for d in ok("webhooks", "deliveries", str(hook["id"]))):
        assert time.monotonic() < deadline, "no delivery"
        time.sleep(0.2)
    assert len(httpserver.log) >= 1
    assert ok("webhooks", "rotate-secret", str(hook["id"]))["secret"].startswith("whsec_")
    report = Client(server["url"], ADMIN).create_report(models=["family"])
    assert ok("reports", "list")[0]["id"] == report["id"]
    page = tmp_path / "report.html"
    ok("reports", "show", str(report["id"]), "--format", "html", "--output", str(page))
    assert "<svg" in page.read_text() or "family" in page.read_text()
    assert {s["job"] for s in ok("schedules")} == {"reevaluate", "report", "artifacts_gc",
                                                   "db_analyze", "expire_requests",
                                                   "check_deployments"}
    ok("webhooks", "delete", str(hook["id"]))
    assert ok("webhooks", "list") == []


def test_nothing_listening_is_one_line_and_exit_7_at_once():
    from tests.e2e.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "registry", "models", "list", "--url", url],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 7
    assert time.monotonic() - started < 5  # the import of the CLI included; no retry loop
    assert result.stderr.splitlines() == [f"modelyard: nothing answers at {url}: is the server "
                                          "running, and is --url / MODELYARD_URL right?"]


def test_input_the_server_refuses_as_invalid_exits_2(server, tmp_path):
    Client(server["url"], ADMIN).register("usage", model_folder(tmp_path, b"u"))
    forced = cli(server, "promote", "usage", "1", "--force")
    assert forced.returncode == 2 and "reason: required with force" in forced.stderr
    bad_name = cli(server, "versions", "register", str(tmp_path / "model"), "--model", "bad name!")
    assert bad_name.returncode == 2, bad_name.stderr


def test_version_flag():
    result = subprocess.run([sys.executable, "-m", "registry", "--version"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("modelyard, version ")


def test_human_output_reads_as_sentences_and_tables(server, tmp_path):
    client = Client(server["url"], ADMIN)
    for seed in (b"h1", b"h2"):
        client.register("human", model_folder(tmp_path / seed.decode(), seed),
                        metrics={"accuracy": 0.8})
    client.promote("human", 1)
    client.promote("human", 2)
    client.rollback("human", reason="pager")
    status = cli(server, "status", "human")
    first, verdict = status.stdout.splitlines()[:2]
    assert first.startswith("production: version 1, rolled back from version 2 by ")
    assert first.endswith(": pager") and verdict.strip() == "no criteria"

    client.set_criteria("human", {"production": [{"metric": "accuracy", "op": ">=",
                                                  "threshold": 0.9}]})
    refused = cli(server, "promote", "human", "2")
    assert refused.returncode == 5
    assert refused.stderr.count("accuracy is 0.8 but it must be at least 0.9.") == 1
    assert "--force --reason" in refused.stderr

    shown = cli(server, "versions", "show", "human", "1")
    assert shown.returncode == 0 and not shown.stdout.lstrip().startswith("{")
    assert "weights.bin" in shown.stdout and "metrics" in shown.stdout
    assert "None" not in shown.stdout  # a version without dataset or code shows blanks
    listed = cli(server, "models", "list")
    assert all(line == line.rstrip() for line in listed.stdout.splitlines())
    tokens = subprocess.run([sys.executable, "-m", "registry", "tokens", "list", "--data-dir",
                             str(server["data"])], capture_output=True, text=True, timeout=60)
    assert tokens.stdout.splitlines()[0].split() == ["ID", "NAME", "ROLE", "CREATED", "LAST",
                                                     "USED", "REVOKED"]
    report = client.create_report(models=["human"])
    summary = cli(server, "reports", "show", str(report["id"]))
    assert summary.stdout.startswith(f"report {report['id']}, ") and "human" in summary.stdout
    assert not summary.stdout.lstrip().startswith("{")


def test_declared_stages_from_the_client_and_the_command_line(server, tmp_path):
    client = Client(server["url"], ADMIN)
    for seed in (b"c1", b"c2", b"c3"):
        client.register("ranker", model_folder(tmp_path / seed.decode(), seed),
                        metrics={"ndcg": 0.7})
    added = cli(server, "stages", "add", "ranker", "canary", "--description", "5% of traffic")
    assert added.returncode == 0 and added.stdout.strip() == "declared stage canary of ranker"
    assert cli(server, "stages", "add", "ranker", "canary").returncode == 4  # exists
    assert cli(server, "stages", "add", "ranker", "archived").returncode == 2  # reserved
    assert cli(server, "promote", "ranker", "1", "--stage", "canary").returncode == 0
    assert cli(server, "promote", "ranker", "2", "--stage", "canary").returncode == 0
    client.promote("ranker", 1)
    rolled = cli(server, "rollback", "ranker", "--stage", "canary", "--reason", "p99")
    assert rolled.stdout.strip() == "rolled ranker canary back from version 2 to version 1"
    listed = cli(server, "stages", "list", "ranker").stdout.splitlines()
    assert listed[0].split()[:3] == ["STAGE", "KIND", "HOLDER"]
    rows = [line.split() for line in listed[1:]]
    assert [row[:2] for row in rows] == [["production", "built-in"], ["staging", "built-in"],
                                         ["canary", "declared"]]
    assert rows[0][2] == rows[2][2] == "1" and rows[1][2] == "no"  # staging: no holder
    status = cli(server, "status", "ranker").stdout
    assert "production: version 1, promoted by" in status
    assert "staging: none" in status and "canary: version 1, rolled back from version 2" in status
    assert json.loads(cli(server, "status", "ranker", "--json").stdout)["stages"]["canary"][
        "version"] == 1
    fetched = client.download("ranker", "canary", tmp_path / "canary")
    assert fetched["version"] == 1
    assert cli(server, "stages", "remove", "ranker", "canary").returncode == 4  # held
    client.set_stage("ranker", 1, "archived")
    assert cli(server, "stages", "remove", "ranker", "canary").returncode == 0
    assert [s["name"] for s in client.list_stages("ranker")] == ["production", "staging"]
