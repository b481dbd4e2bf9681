#!/usr/bin/env python3
"""Commit-to-delivery latency of webhooks with a healthy receiver: the API server (gunicorn,
2 workers, gthread) commits a change, `modelyard worker` (its own process) delivers it.

    python scripts/bench_webhooks.py [--backend sqlite|postgres|both] [--events 300] [--json]

Latency is from the moment the API answered the change (it has committed) to the moment the
receiver on loopback got the request, both read from this machine's clock.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


import benchlib

LOOPBACK = {"MODELYARD_WEBHOOK_ALLOW_HTTP": "true",
            "MODELYARD_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]'}


def _receiver(arrivals: dict) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            arrivals[body["data"]["seq"]] = time.time()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_backend(name: str, args) -> dict:
    arrivals: dict[int, float] = {}
    receiver = _receiver(arrivals)
    os.environ.update(LOOPBACK)
    with benchlib.backend_server(name, args.pg_url) as (_process, url, data_dir, database_url):
        env = {**os.environ, "DATABASE_URL": database_url, "MODELYARD_CONFIG": "",
               "MODELYARD_SERVER_DATA_DIR": data_dir}
        worker = subprocess.Popen([sys.executable, "-m", "registry", "worker"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            session = benchlib.session()
            session.post(f"{url}/api/v1/webhooks", json={
                "url": f"http://127.0.0.1:{receiver.server_address[1]}/hook",
                "events": ["model.updated"]}).raise_for_status()
            session.post(f"{url}/api/v1/models", json={"name": "hooked"}).raise_for_status()
            time.sleep(1)
            committed = {}
            for index in range(args.events):
                response = session.patch(f"{url}/api/v1/models/hooked",
                                         json={"description": str(index)})
                committed_at = time.time()
                response.raise_for_status()
                seq = session.get(f"{url}/api/v1/events?model=hooked&type=model.updated"
                                  f"&after={max(committed, default=0)}&limit=1").json()
                committed[seq["items"][0]["seq"]] = committed_at
                time.sleep(args.gap_ms / 1000)
            deadline = time.monotonic() + 30
            while len(arrivals) < len(committed) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait()
    receiver.shutdown()
    receiver.server_close()
    latencies = [(arrivals[seq] - at) * 1000 for seq, at in committed.items() if seq in arrivals]
    ordered = sorted(latencies)
    return {"backend": name, "events": len(committed), "delivered": len(latencies),
            "p50_ms": round(ordered[len(ordered) // 2], 1),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--gap-ms", type=float, default=20, help="pause between changes")
    parser.add_argument("--pg-url", default=benchlib.DEFAULT_PG_URL)
    parser.add_argument("--json", action="store_true")
    results = benchlib.results_per_backend(parser.parse_args(), run_backend)
    if results is None:
        return
    print(f"{'backend':<10}{'events':>8}{'delivered':>10}{'p50 ms':>9}{'p95 ms':>9}")
    for row in results:
        print(f"{row['backend']:<10}{row['events']:>8}{row['delivered']:>10}{row['p50_ms']:>9}"
              f"{row['p95_ms']:>9}")


if __name__ == "__main__":
    main()
