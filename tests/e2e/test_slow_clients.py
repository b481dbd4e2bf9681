"""Slow clients cannot starve the server: requests are read whole before a thread takes them."""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import free_port, running
from tests.e2e.slow_clients import start_slow_clients

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "myd_" + "s" * 40
THREADS = 8


def _dockerfile_command() -> list[str]:
    line = next(line for line in (ROOT / "Dockerfile").read_text().splitlines()
                if line.startswith("CMD "))
    return json.loads(line[4:])


def _serve_command(port: int) -> list[str]:
    return [sys.executable, "-m", "registry", "serve", "--port", str(port)]


def _env(tmp_path, port: int, **extra) -> dict:
    bin_dir = str(Path(sys.executable).parent)  # the Dockerfile's `modelyard` is on PATH there
    return {"MODELYARD_CONFIG": "", "DATABASE_URL": "", "MODELYARD_AUTH_ENABLED": "true",
            "MODELYARD_ADMIN_TOKEN": TOKEN, "MODELYARD_SERVER_DATA_DIR": str(tmp_path / "data"),
            "MODELYARD_SERVER_PORT": str(port), "MODELYARD_SERVER_THREADS": str(THREADS),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **extra}


def _production(url: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    api = f"{url}/api/v1/models"
    assert requests.post(api, json={"name": "fraud"}, headers=auth).status_code == 201
    requests.post(f"{api}/fraud/versions", json={"source_uri": "s3://b/m"}, headers=auth)
    requests.post(f"{api}/fraud/versions/1/finalize", headers=auth)
    assert requests.post(f"{api}/fraud/promote", json={"version": 1},
                         headers=auth).status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize("how", ["modelyard serve", "the Dockerfile's command"])
def test_slow_clients_do_not_starve_health_and_production_lookups(tmp_path, how):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = _serve_command(port) if how == "modelyard serve" else _dockerfile_command()
    with running(command, url, env=_env(tmp_path, port)):
        _production(url)
        clients = start_slow_clients(port, 4 * THREADS, TOKEN, seconds=6)
        time.sleep(1)  # every slow client is connected and part-way through
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with requests.Session() as session:
            for _ in range(40):
                # before the fix each of these waited seconds for a thread; 2 s is a stall
                assert session.get(f"{url}/healthz", timeout=2).status_code == 200
                answer = session.get(f"{url}/api/v1/models/fraud/production", headers=auth,
                                     timeout=2)
                assert answer.json()["version"] == 1
        for client in clients:
            client.join()


def test_a_request_not_whole_in_time_gets_408_and_is_logged(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = _env(tmp_path, port, MODELYARD_SERVER_REQUEST_TIMEOUT_S="1")
    with running(_serve_command(port), url, env=env) as (_process, log):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            started = time.monotonic()
            answer = sock.recv(4096)
            waited = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"application/problem+json" in answer and b'"status": 408' in answer
        assert waited < 5  # cut off near the 1 s deadline, not left hanging
        time.sleep(0.5)
        log.seek(0)
        assert b"refused a request from" in log.read()


@pytest.mark.parametrize("path_chars, status", [(5_000, 414), (70_000, 414)])
def test_overlong_paths_get_a_problem_not_gunicorns_html(tmp_path, path_chars, status):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(_serve_command(port), url, env=_env(tmp_path, port)):
        answer = requests.get(f"{url}/api/v1/models/{'a' * path_chars}", timeout=10)
        assert answer.status_code == status
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.json()["status"] == status


def test_two_servers_on_one_host_keep_no_shared_control_socket(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    first, second = free_port(), free_port()
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": ""}
    with running(_serve_command(first), f"http://127.0.0.1:{first}",
                 env=_env(tmp_path / "a", first, **env)):
        with running(_serve_command(second), f"http://127.0.0.1:{second}",
                     env=_env(tmp_path / "b", second, **env)):
            assert requests.get(f"http://127.0.0.1:{first}/healthz").ok
            assert not (home / ".gunicorn").exists()
