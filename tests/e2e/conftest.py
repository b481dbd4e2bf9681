"""Real server processes on loopback."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(command: list[str], url: str, env: dict | None = None, timeout: float = 30):
    """Start a server process, wait until `url`/healthz answers, stop it afterwards."""
    log = tempfile.TemporaryFile()  # a pipe nobody reads would fill up and stall the server
    env = {**os.environ, "MODELYARD_AUTH_ENABLED": "false", **(env or {})}  # test_auth_e2e: on
    process = subprocess.Popen(command, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=5).ok:
                    break
            except requests.RequestException:  # not listening yet, or too busy booting to answer
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                output = log.read().decode(errors="replace")
                raise AssertionError(f"server did not start: {output[-3000:]}")
            time.sleep(0.1)
        yield process, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def gunicorn_command(port: int, workers: int = 2) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(workers), "--threads", "8",
            "-b", f"127.0.0.1:{port}", "registry.wsgi:app"]


ADMIN = "deployments-admin-token-0123456789abcdef"  # the admin token of `Server`


class Server:
    """`modelyard serve` that a test may SIGKILL and start again on the same port and data."""

    def __init__(self, data: Path) -> None:
        self.port, self.data = free_port(), data
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "MODELYARD_AUTH_ENABLED": "true", "MODELYARD_ADMIN_TOKEN": ADMIN,
               "MODELYARD_CONFIG": "", "DATABASE_URL": "",
               "MODELYARD_SCHEDULE_RUN_IN_SERVE": "false"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "registry", "serve", "--port", str(self.port), "--data-dir",
             str(self.data)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        wait_for(lambda: requests.get(f"{self.url}/healthz", timeout=2).ok, "server up")

    def kill(self, signum=signal.SIGKILL) -> None:
        os.killpg(self.process.pid, signum)
        self.process.wait(30)

    def api(self, method: str, path: str, **body):
        answer = requests.request(method, f"{self.url}/api/v1{path}", json=body or None,
                                  headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)
        assert answer.status_code < 300, (path, answer.status_code, answer.text)
        return answer.json() if answer.content else None


def wait_for(check, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (requests.RequestException, OSError, ValueError):
            pass
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")
