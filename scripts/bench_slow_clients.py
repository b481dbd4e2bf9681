#!/usr/bin/env python3
"""Look-up latency while 4 x server.threads slow clients hold connections open.

    scripts/bench_slow_clients.py [--how serve|dockerfile|gthread] [--requests 400] [--json]

Half the slow clients send a request head a byte every 80 ms, half send an authorised POST whose
body arrives the same way. Meanwhile one client times /healthz and the production look-up in
turn. `serve` and `dockerfile` run what users run (the buffering worker); `gthread` runs plain
gunicorn gthread with the same threads, for comparison. Target: p99 under 100 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import free_port, running  # noqa: E402
from tests.e2e.slow_clients import start_slow_clients  # noqa: E402
from tests.e2e.test_slow_clients import (THREADS, TOKEN, _dockerfile_command, _env,  # noqa: E402
                                         _production, _serve_command)


def _command(how: str, port: int) -> list[str]:
    if how == "serve":
        return _serve_command(port)
    if how == "dockerfile":
        return _dockerfile_command()
    return [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "1", "--threads",
            str(THREADS), "-b", f"127.0.0.1:{port}", "registry.wsgi:app"]


def _percentiles(samples_ms: list[float]) -> dict:
    ordered = sorted(samples_ms)
    return {"count": len(ordered), "p50_ms": round(statistics.median(ordered), 1),
            "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 1),
            "max_ms": round(ordered[-1], 1)}


def measure(how: str, count: int) -> dict:
    with tempfile.TemporaryDirectory() as work:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = _env(Path(work), port)
        with running(_command(how, port), url, env=env, timeout=60):
            _production(url)
            clients = start_slow_clients(port, 4 * THREADS, TOKEN, seconds=120)
            time.sleep(1)
            timings: dict[str, list[float]] = {"healthz": [], "production": []}
            auth = {"Authorization": f"Bearer {TOKEN}"}
            with requests.Session() as session:
                for number in range(count):
                    name = ("healthz", "production")[number % 2]
                    path = "/healthz" if name == "healthz" else "/api/v1/models/fraud/production"
                    started = time.perf_counter()
                    session.get(f"{url}{path}", headers=auth, timeout=60).raise_for_status()
                    timings[name].append((time.perf_counter() - started) * 1000)
            alive = sum(client.is_alive() for client in clients)
        return {"how": how, "slow_clients": 4 * THREADS, "threads": THREADS,
                "slow_clients_still_sending": alive,
                **{name: _percentiles(samples) for name, samples in timings.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--how", choices=("serve", "dockerfile", "gthread"), default="serve")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.how, args.requests)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:28}{value}")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
