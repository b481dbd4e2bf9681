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
