"""A real MLflow tracking server on loopback (SQLite backend), filled with MLflow's own client.

MLflow runs from a virtual environment of its own (`.venv-mlflow`, made on first use): installed
beside Modelyard it would pull the server's own dependencies down to the versions it pins
(gunicorn<27 among them), and the tests would no longer run the server users get."""
from __future__ import annotations

import fcntl
import os
import shlex
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.e2e.conftest import free_port

HERE = Path(__file__).resolve().parent
MLFLOW = "mlflow==3.17.2"  # the release the comparison measured
# MLflow's PostgreSQL driver, for scripts/bench_mlflow.py's side-by-side run on PostgreSQL
REQUIREMENTS = [MLFLOW, "psycopg2-binary==2.9.10"]
VENV = Path(os.environ.get("MODELYARD_MLFLOW_VENV") or HERE.parent.parent / ".venv-mlflow")


def mlflow_bin() -> Path:
    """The bin folder of an environment with MLflow, made (once, under a lock) when missing."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / ".venv-mlflow.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ready = VENV / "ready"
        if not ready.exists() or ready.read_text() != " ".join(REQUIREMENTS):
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
            subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q",
                            *REQUIREMENTS], check=True, timeout=1800)
            ready.write_text(" ".join(REQUIREMENTS))
    return VENV / "bin"


def prepare_in_background() -> None:
    """Start making the environment in a process of its own unless it is ready; whoever asks
    for it next waits on the same lock. The shell returns at once and leaves the maker running
    (a Popen left unawaited would be a ResourceWarning, an error in this suite)."""
    ready = VENV / "ready"
    if ready.exists() and ready.read_text() == " ".join(REQUIREMENTS):
        return
    maker = shlex.join([sys.executable, "-c",
                        "from tests.e2e.mlflow_server import mlflow_bin; mlflow_bin()"])
    subprocess.run(["sh", "-c", f"{maker} >/dev/null 2>&1 &"], cwd=HERE.parent.parent,
                   check=True)


@contextmanager
def mlflow_server(root: Path, *, proxy: bool = True, workers: int = 1,
                  backend_store_uri: str | None = None):
    """Yield the URL of an MLflow server keeping its data under `root` (in SQLite, or at
    `backend_store_uri`); with `proxy` it serves artifacts itself (`--serve-artifacts`), else
    runs store them in a folder it reads."""
    port = free_port()
    artifacts = ["--serve-artifacts", "--artifacts-destination", str(root / "artifacts")] if proxy \
        else ["--no-serve-artifacts", "--default-artifact-root", str(root / "artifacts")]
    log = open(root / "mlflow.log", "wb")
    process = subprocess.Popen(
        [str(mlflow_bin() / "mlflow"), "server", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers),
         "--backend-store-uri", backend_store_uri or f"sqlite:///{root / 'mlflow.db'}",
         *artifacts],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((root / "mlflow.log").read_text()[-3000:])
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:  # its job consumers sometimes ignore SIGTERM
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)
        log.close()


def populate(url: str, what: str, *args: str) -> None:
    """Fill the server through MLflow's client: `full` (three models), `small` (one), or
    `bench` with a number of versions."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": url, "GIT_PYTHON_REFRESH": "quiet"}
    done = subprocess.run([str(mlflow_bin() / "python"), str(HERE / "mlflow_populate.py"), url,
                           what, *args], env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
