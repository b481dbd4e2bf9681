"""`modelyard import mlflow` against a real MLflow tracking server on loopback (SQLite backend,
with and without its artifact proxy), filled by MLflow's own client, into real Modelyard
servers with authentication on: the same versions, metadata, files and stage holders come
over; a second run imports nothing; a run SIGKILLed half-way and run again ends identical to
an uninterrupted one; a dry run writes nothing."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from registry.client import Client
from tests.e2e.conftest import ADMIN, Server, wait_for
from tests.e2e.mlflow_server import mlflow_server, populate

pytestmark = pytest.mark.slow
API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def mlflow_url(tmp_path_factory):
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as url:
        populate(url, "full")
        yield url


@pytest.fixture
def servers(tmp_path):
    started = []

    def start(name: str) -> Server:
        server = Server(tmp_path / name)
        server.start()
        started.append(server)
        return server
    yield start
    for server in started:
        server.kill(signal.SIGTERM)


def run_import(server: Server, mlflow_url: str, *args: str, wait: bool = True):
    command = [sys.executable, "-m", "registry", "import", "mlflow", "--tracking-uri", mlflow_url,
               "--url", server.url, *args]
    env = {**os.environ, "MODELYARD_TOKEN": ADMIN}
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def imported_json(server: Server, mlflow_url: str, *args: str) -> dict:
    done = run_import(server, mlflow_url, "--json", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return {model["name"]: model for model in json.loads(done.stdout)["models"]}


def snapshot(server: Server) -> dict:
    """Everything the import writes, without instants and sequence numbers."""
    client = Client(server.url, ADMIN)
    state = {}
    for model in client.list_models():
        name = model["name"]
        versions = []
        for summary in sorted(client.list_versions(name), key=lambda v: v["version"]):
            view = client.get_version(name, summary["version"])
            versions.append({key: view[key] for key in (
                "version", "description", "tags", "status", "stage", "stages", "source_uri",
                "run", "metrics", "files")})
        state[name] = {
            "description": model["description"], "tags": model["tags"], "versions": versions,
            "stages": {s["name"]: (s["holder"] or {}).get("version")
                       for s in client.list_stages(name)},
            "history": [(m["stage"], m["from_version"], m["to_version"], m["action"], m["actor"],
                         m["reason"], m["forced"]) for m in client.history(name)]}
    return state


def mlflow_get(url: str, route: str, **params) -> dict:
    answer = requests.get(f"{url}{API}{route}", params=params, timeout=30)
    answer.raise_for_status()
    return answer.json()


def mlflow_bytes_sha256(url: str, version: dict, path: str) -> str:
    """What MLflow itself serves for a file of a version, hashed (read independently of the
    importer: a run's artifact route, or a logged model's)."""
    source = version["source"]
    if source.startswith("runs:/"):
        run_id, _, root = source.removeprefix("runs:/").partition("/")
        answer = requests.get(f"{url}/get-artifact",
                              params={"run_id": run_id, "path": f"{root}/{path}"}, timeout=30)
    else:
        model_id = source.removeprefix("models:/")
        answer = requests.get(f"{url}/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
                              params={"artifact_file_path": path}, timeout=30)
    answer.raise_for_status()
    return hashlib.sha256(answer.content).hexdigest()


def test_the_import_brings_versions_metadata_files_and_stages(mlflow_url, servers):
    server = servers("uninterrupted")
    first = imported_json(server, mlflow_url)
    assert {name: len(m["imported"]) for name, m in first.items()} == {
        "churn": 4, "fraud": 2, "ranker": 2}
    assert first["fraud"]["version_map"] == {"3": 2}  # MLflow's version 2 was deleted
    assert not any(m["failed"] or m["skipped"] for m in first.values())
    client = Client(server.url, ADMIN)

    churn = client.get_model("churn")
    assert (churn["description"], churn["tags"]) == ("Churn model", {"domain": "crm"})
    for name, mapped in (("churn", {1: 1, 2: 2, 3: 3, 4: 4}), ("fraud", {1: 1, 3: 2}),
                         ("ranker", {1: 1, 2: 2})):
        for mv in mlflow_get(mlflow_url, "/model-versions/search", filter=f"name='{name}'")[
                "model_versions"]:
            here = client.get_version(name, mapped[int(mv["version"])])
            assert here["status"] == "ready"
            assert here["description"] == mv.get("description", "")
            assert here["tags"]["mlflow.version"] == mv["version"]
            assert here["tags"]["mlflow.source"] == mv["source"]
            for tag in mv.get("tags", []):
                assert here["tags"][tag["key"]] == tag["value"]
            run = mlflow_get(mlflow_url, "/runs/get", run_id=mv["run_id"])["run"]
            assert here["run"]["id"] == mv["run_id"]
            assert here["run"]["experiment"] == "credit"
            assert here["run"]["params"] == {p["key"].replace(" ", "_"): p["value"]
                                             for p in run["data"]["params"]}
            assert here["run"]["metrics"] == {m["key"]: m["value"] for m in run["data"]["metrics"]}
            assert here["metrics"] == here["run"]["metrics"]
            if mv["source"].startswith("runs:/"):  # the runs that logged a dataset and a commit
                assert here["run"]["dataset"]["name"] == f"{name}-train"
                assert here["run"]["dataset"]["digest"] == \
                    run["inputs"]["dataset_inputs"][0]["dataset"]["digest"]
                assert here["run"]["code"]["commit"] == next(
                    t["value"] for t in run["data"]["tags"] if t["key"] == "mlflow.source.git.commit")
                assert here["tags"]["run.team"] == "risk"
            files = client.list_files(name, here["version"])
            assert files and all(
                f["sha256"] == mlflow_bytes_sha256(mlflow_url, mv, f["path"]) for f in files)
    weights = next(f for f in client.list_files("churn", 3) if f["path"] == "weights.bin")
    assert weights["size"] == 3 << 20
    assert {f["path"] for f in client.list_files("ranker", 2)} >= {"MLmodel", "python_model.pkl"}

    holders = {name: {s["name"]: (s["holder"] or {}).get("version")
                      for s in client.list_stages(name)} for name in ("churn", "fraud", "ranker")}
    assert holders == {"churn": {"staging": 4, "production": 3, "champion": 3},
                       "fraud": {"staging": None, "production": 2},
                       "ranker": {"staging": None, "production": None, "shadow-test": 2}}
    assert client.get_version("churn", 1)["stage"] == "archived"  # archived in MLflow
    moves = client.history("churn")
    assert len(moves) == 3 and {m["actor"] for m in moves} == {"import:mlflow"}
    assert all(m["forced"] and mlflow_url in m["reason"] for m in moves)
    assert "alias champion" in next(m for m in moves if m["stage"] == "champion")["reason"]
    events = client.events(type="model.promoted")
    assert all(e["data"]["imported_by"].startswith("token:admin") for e in events)

    again = imported_json(server, mlflow_url)
    assert all(m["imported"] == [] and m["files"] == 0 for m in again.values())
    assert {s["action"] for m in again.values() for s in m["stages"]} == {"unchanged"}
    assert len(client.history("churn")) == 3


def test_a_run_killed_half_way_ends_identical_to_an_uninterrupted_one(mlflow_url, servers):
    reference, resumed = servers("reference"), servers("resumed")
    imported_json(reference, mlflow_url)

    dry = imported_json(resumed, mlflow_url, "--dry-run")
    assert dry["churn"]["files"] == 8 and dry["churn"]["bytes"] > 12 << 20
    assert {s["action"] for s in dry["churn"]["stages"]} == {"would set"}
    assert Client(resumed.url, ADMIN).list_models() == []  # a dry run writes nothing

    process = run_import(resumed, mlflow_url, wait=False)
    client = Client(resumed.url, ADMIN)
    wait_for(lambda: len(client.list_versions(status="ready")) >= 2, "two versions imported",
             timeout=60)
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(30) == -signal.SIGKILL  # it was still running
    ready, present = settled(client)
    assert ready < 8

    again = imported_json(resumed, mlflow_url)
    assert sum(len(m["imported"]) for m in again.values()) == 8 - ready
    assert sum(m["files"] for m in again.values()) == 19 - present  # none uploaded twice
    assert snapshot(resumed) == snapshot(reference)


def settled(client: Client) -> tuple[int, int]:
    """(ready versions, files present) once requests the killed import had already sent are done.

    The server finishes a request it has fully received even when the client is gone, so a
    finalize in flight at the kill can still turn a version ready after the kill returns."""
    def counts() -> tuple[int, int]:
        versions = client.list_versions()
        return (sum(v["status"] == "ready" for v in versions),
                sum(len(v["files"]) for v in versions))
    before, deadline = counts(), time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(1.5)
        now = counts()
        if now == before:
            return now
        before = now
    pytest.fail("the server kept changing after the import was killed")


def test_refusals_have_the_cli_exit_codes(mlflow_url, servers):
    server = servers("codes")
    unknown = run_import(server, mlflow_url, "--model", "nope")
    assert unknown.returncode == 3 and "nope" in unknown.stderr
    nothing = run_import(server, "http://127.0.0.1:9", "--model", "churn")
    assert nothing.returncode == 7 and "no MLflow tracking server" in nothing.stderr
    denied = subprocess.run(
        [sys.executable, "-m", "registry", "import", "mlflow", "--tracking-uri", mlflow_url,
         "--url", server.url, "--model", "fraud"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "MODELYARD_TOKEN": "not-a-token"})
    assert denied.returncode == 6
    assert Client(server.url, ADMIN).list_models() == []


def test_without_the_artifact_proxy_files_come_through_the_tracking_server(servers, tmp_path):
    root = tmp_path / "plain"
    root.mkdir()
    with mlflow_server(root, proxy=False) as url:
        populate(url, "small")
        server = servers("plain")
        report = imported_json(server, url)["tiny"]
        assert report["imported"] == [1] and report["files"] == 2
        client = Client(server.url, ADMIN)
        assert client.stage("tiny", "production")["version"] == 1
        mv = mlflow_get(url, "/model-versions/get", name="tiny", version="1")["model_version"]
        assert all(f["sha256"] == mlflow_bytes_sha256(url, mv, f["path"])
                   for f in client.list_files("tiny", 1))
        stored = next((root / "artifacts").rglob("weights.bin"))  # really not proxied
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == next(
            f["sha256"] for f in client.list_files("tiny", 1) if f["path"] == "weights.bin")
        assert "tiny" in on_a_terminal(server, url)


def on_a_terminal(server: Server, url: str) -> str:
    """What a person sees on stderr (a terminal) while the summary goes to stdout."""
    import pty

    controller, terminal = pty.openpty()
    done = subprocess.run(
        [sys.executable, "-m", "registry", "import", "mlflow", "--tracking-uri", url, "--url",
         server.url], env={**os.environ, "MODELYARD_TOKEN": ADMIN}, stdout=subprocess.PIPE,
        stderr=terminal, text=True, timeout=120)
    os.close(terminal)
    seen = b""
    try:
        while chunk := os.read(controller, 65536):
            seen += chunk
    except OSError:  # the terminal closed
        pass
    os.close(controller)
    assert done.returncode == 0 and "ALREADY HERE" in done.stdout  # the summary table
    assert b"1/1" in seen  # the model's bar: its one version done
    return seen.decode(errors="replace")
