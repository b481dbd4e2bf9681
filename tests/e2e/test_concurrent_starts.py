"""Replicas started at the same moment on a fresh database all come up and serve."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import requests

from tests.conftest import fresh_pg_database
from tests.e2e.conftest import free_port

TOKEN = "myd_" + "r" * 40
REPLICAS, ROUNDS = 4, 10


def _start_together(env: dict) -> list[tuple[subprocess.Popen, str, object]]:
    started = []
    for _ in range(REPLICAS):
        port, log = free_port(), tempfile.TemporaryFile()
        process = subprocess.Popen([sys.executable, "-m", "registry", "serve", "--port", str(port)],
                                   env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        started.append((process, f"http://127.0.0.1:{port}", log))
    return started


def _serving(process: subprocess.Popen, url: str, deadline: float) -> bool:
    while time.monotonic() < deadline and process.poll() is None:
        try:
            answer = requests.get(f"{url}/api/v1/models", timeout=5,
                                  headers={"Authorization": f"Bearer {TOKEN}"})
            if answer.status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.1)
    return False


def _stop(started) -> None:
    for process, _url, log in started:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:  # a replica that failed to boot has exited already
            pass
        process.wait()
        log.close()


@pytest.mark.slow
@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_replicas_started_together_all_serve(tmp_path, database):
    for round_number in range(ROUNDS if database == "postgres" else 3):
        data_dir = tmp_path / f"round{round_number}"
        url = fresh_pg_database("modelyard_test_starts") if database == "postgres" else ""
        env = {**os.environ, "MODELYARD_CONFIG": "", "DATABASE_URL": url,
               "MODELYARD_ADMIN_TOKEN": TOKEN, "MODELYARD_AUTH_ENABLED": "true",
               "MODELYARD_SERVER_DATA_DIR": str(data_dir)}
        started = _start_together(env)
        try:
            deadline = time.monotonic() + 90
            for process, base, log in started:
                if not _serving(process, base, deadline):
                    log.seek(0)
                    pytest.fail(f"round {round_number}: a replica did not serve:\n"
                                + log.read().decode(errors="replace")[-3000:])
        finally:
            _stop(started)
