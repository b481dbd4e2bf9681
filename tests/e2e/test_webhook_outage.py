"""Webhooks survive a receiver outage and a SIGKILLed worker: every event arrives, in order."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from registry.app import create_app
from tests.e2e.conftest import free_port

MODELS, EVENTS_PER_MODEL = 20, 10
SCALED = {"allow_http": True, "allowed_networks": ["127.0.0.0/8"], "retry_jitter": 0,
          "retry_schedule_s": [0, 0.2, 0.5] + [1] * 40, "poll_interval_s": 0.1}


class Receiver:
    def __init__(self, port):
        arrivals = self.arrivals = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                arrivals.append((self.headers["webhook-id"], body["data"].get("model"),
                                 body["data"]["seq"]))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _worker(env):
    return subprocess.Popen([sys.executable, "-m", "registry", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_outage_and_a_killed_worker_lose_nothing(backend):
    port = free_port()
    app = create_app({**backend, "webhook": SCALED}, environ={})
    client = app.test_client()
    hook = client.post("/api/v1/webhooks", json={"url": f"http://127.0.0.1:{port}/hook",
                                                 "events": ["*"]})
    assert hook.status_code == 201
    env = {**os.environ, "MODELYARD_CONFIG": "",
           "MODELYARD_SERVER_DATA_DIR": backend["server"]["data_dir"],
           "DATABASE_URL": backend.get("database", {}).get("url", ""),
           **{f"MODELYARD_WEBHOOK_{key.upper()}": json.dumps(value) for key, value in SCALED.items()}}
    worker = _worker(env)
    for index in range(MODELS):
        client.post("/api/v1/models", json={"name": f"m{index}"})
        for step in range(EVENTS_PER_MODEL - 1):
            client.patch(f"/api/v1/models/m{index}", json={"description": str(step)})
    events = [event for event in client.get("/api/v1/events?limit=1000").json["items"]
              if event["model"]]  # webhook.created is audited, not delivered
    assert len(events) == MODELS * EVENTS_PER_MODEL
    time.sleep(1.5)  # the worker is retrying against the closed port
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    worker = _worker(env)
    receiver = Receiver(port)
    try:
        deadline = time.monotonic() + 120
        expected = {event["id"] for event in events}
        while {arrival[0] for arrival in receiver.arrivals} != expected:
            assert time.monotonic() < deadline, f"{len(receiver.arrivals)} of {len(expected)}"
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(15)
        receiver.close()
    duplicates = sum(count - 1 for count in Counter(a[0] for a in receiver.arrivals).values())
    assert duplicates <= app.extensions["modelyard_webhooks"].batch_size
    first_seqs = defaultdict(list)
    seen = set()
    for event_id, model, seq in receiver.arrivals:
        if event_id not in seen:
            seen.add(event_id)
            first_seqs[model].append(seq)
    assert len(first_seqs) == MODELS
    assert all(seqs == sorted(seqs) for seqs in first_seqs.values())
