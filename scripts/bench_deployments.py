#!/usr/bin/env python3
"""Revert-to-served time: 10 `modelyard agent` processes follow one model's production stage on
loopback (their --exec a no-op); 50 rollbacks (each after a promotion the agents followed); for
each rollback, the registry's own `converged_s` on its history row: the time from the move to
the last agent's `serving` report. p50 / p95 / max.

    python scripts/bench_deployments.py [--agents 10] [--rollbacks 50] [--json]

The server is gunicorn, 2 workers, gthread, on a fresh SQLite folder (as the other benches).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib

MODEL = "revert"


def _seed(url: str) -> None:
    http = benchlib.session()
    api = f"{url}/api/v1/models"
    http.post(api, json={"name": MODEL}).raise_for_status()
    for number in (1, 2):
        http.post(f"{api}/{MODEL}/versions", json={}).raise_for_status()
        http.put(f"{api}/{MODEL}/versions/{number}/files/model.bin",
                 data=os.urandom(64 * 1024)).raise_for_status()
        http.post(f"{api}/{MODEL}/versions/{number}/finalize").raise_for_status()
    http.post(f"{api}/{MODEL}/promote", json={"version": 1}).raise_for_status()


def _agents(url: str, count: int, root: Path) -> list[subprocess.Popen]:
    env = {**os.environ, "MODELYARD_URL": url, "MODELYARD_TOKEN": benchlib.TOKEN}
    return [subprocess.Popen([sys.executable, "-m", "registry", "agent", "--model", MODEL,
                              "--target", f"t{index}", "--dir", str(root / f"t{index}"),
                              "--exec", "true", "--heartbeat", "5"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True) for index in range(count)]


def _converged(url: str, timeout: float = 60) -> float:
    """The newest production move's converged_s, once it has one."""
    http = benchlib.session()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        move = http.get(f"{url}/api/v1/models/{MODEL}/history",
                        params={"stage": "production", "limit": 1}).json()["items"][0]
        if move["converged_s"] is not None:
            return move["converged_s"]
        time.sleep(0.05)
    raise SystemExit("the agents did not converge within a minute")


def run(args) -> dict:
    with tempfile.TemporaryDirectory() as data_dir, tempfile.TemporaryDirectory() as root:
        with benchlib.server(data_dir) as (_process, url):
            _seed(url)
            agents = _agents(url, args.agents, Path(root))
            try:
                http = benchlib.session()
                _converged(url)
                times = []
                for _ in range(args.rollbacks):
                    http.post(f"{url}/api/v1/models/{MODEL}/promote",
                              json={"version": 2}).raise_for_status()
                    _converged(url)
                    http.post(f"{url}/api/v1/models/{MODEL}/rollback",
                              json={"reason": "bench"}).raise_for_status()
                    times.append(_converged(url) * 1000)
            finally:
                for agent in agents:
                    os.killpg(agent.pid, signal.SIGTERM)
                for agent in agents:
                    agent.wait(30)
    ordered = sorted(times)
    return {"agents": args.agents, "rollbacks": args.rollbacks,
            "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 1),
            "max_ms": round(ordered[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--rollbacks", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['agents']} agents, {result['rollbacks']} rollbacks: rollback to last "
              f"agent serving p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
              f"max {result['max_ms']} ms")


if __name__ == "__main__":
    main()
