"""The production topology of docs/deploy.md on loopback: two `modelyard serve` replicas and two
`modelyard worker`s on one PostgreSQL database and one S3 bucket (moto's server)."""
from __future__ import annotations

import hashlib
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
from cryptography.fernet import Fernet

from registry.client import Client, Conflict, PreconditionFailed
from tests.e2e.conftest import free_port, running
from tests.conftest import fresh_pg_database
from tests.e2e.test_webhook_outage import Receiver

TOKEN = "myd_" + "t" * 40


def _environment(database_url: str, s3_endpoint: str) -> dict:
    return {"MODELYARD_CONFIG": "", "DATABASE_URL": database_url, "MODELYARD_AUTH_ENABLED": "true",
            "MODELYARD_ADMIN_TOKEN": TOKEN,
            # the settings docs/deploy.md gives replicas behind a proxy, with separate workers
            "MODELYARD_WEBHOOK_DISPATCH_IN_SERVE": "false",
            "MODELYARD_SCHEDULE_RUN_IN_SERVE": "false",
            "MODELYARD_WEBHOOK_SECRET_KEY": Fernet.generate_key().decode(),
            "MODELYARD_WEBHOOK_ALLOW_HTTP": "true",
            "MODELYARD_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
            "MODELYARD_WEBHOOK_POLL_INTERVAL_S": "0.1",
            "MODELYARD_STORAGE_BACKEND": "s3", "MODELYARD_STORAGE_S3_ENDPOINT": s3_endpoint,
            "MODELYARD_STORAGE_S3_BUCKET": "topology", "MODELYARD_STORAGE_S3_SECURE": "false",
            "MODELYARD_STORAGE_S3_ACCESS_KEY": "testing",
            "MODELYARD_STORAGE_S3_SECRET_KEY": "testing",
            "MODELYARD_SCHEDULE_REEVALUATE": "*/2 * * * * *", "MODELYARD_SCHEDULE_REPORT": "",
            "MODELYARD_SCHEDULE_ARTIFACTS_GC": "", "MODELYARD_SCHEDULE_DB_ANALYZE": ""}


def _worker(env: dict, data_dir, health_url: str):
    """`modelyard worker` has no HTTP port: `running` waits on a replica's health instead."""
    return running([sys.executable, "-m", "registry", "worker", "--data-dir", str(data_dir)],
                   health_url, env=env)


def _move(client: Client, versions: list[int], rng: random.Random) -> str:
    try:
        if rng.random() < 0.4:
            client.rollback("fraud", reason="drill")
            return "rollback"
        client.promote("fraud", rng.choice(versions))
        return "promote"
    except (Conflict, PreconditionFailed):  # already there, or nothing to roll back to
        return "refused"


def _chained(history: list[dict]) -> bool:
    oldest_first = list(reversed(history))
    return all(later["from_version"] == earlier["to_version"]
               for earlier, later in zip(oldest_first, oldest_first[1:]))


@pytest.mark.slow
def test_two_replicas_and_workers_on_one_postgres_and_one_bucket(tmp_path, s3_endpoint):
    env = _environment(fresh_pg_database("modelyard_test_topology"), s3_endpoint)
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    receiver = Receiver(free_port())
    with ExitStack() as stack:
        for number, port in enumerate(ports):
            stack.enter_context(running(
                [sys.executable, "-m", "registry", "serve", "--port", str(port), "--data-dir",
                 str(tmp_path / f"replica{number}")], urls[number], env=env))
        first, second = Client(urls[0], TOKEN), Client(urls[1], TOKEN)
        first.create_webhook(f"http://127.0.0.1:{receiver.server.server_port}/hook", ["*"])
        # it receives what commits after it: everything after its own webhook.created event
        start = max(event["seq"] for event in first.events(after=0))
        for number in range(2):
            stack.enter_context(_worker(env, tmp_path / f"worker{number}", urls[0]))

        # uploads through one replica, downloads through the other, checked byte for byte
        weights = {}
        for number in range(1, 5):
            folder = tmp_path / f"model{number}"
            folder.mkdir()
            weights[number] = os.urandom(300_000)
            (folder / "weights.bin").write_bytes(weights[number])
            assert first.register("fraud", folder)["version"] == number
        for number in range(1, 5):
            second.download("fraud", number, tmp_path / f"down{number}")
            got = (tmp_path / f"down{number}" / "weights.bin").read_bytes()
            assert hashlib.sha256(got).digest() == hashlib.sha256(weights[number]).digest()

        # promotions and rollbacks racing across both replicas
        def moves(seed: int) -> list[str]:
            client, rng = (first, second)[seed % 2], random.Random(seed)
            return [_move(client, [1, 2, 3, 4], rng) for _ in range(15)]

        with ThreadPoolExecutor(8) as pool:
            outcomes = [o for batch in pool.map(moves, range(8)) for o in batch]
        assert outcomes.count("promote") + outcomes.count("rollback") > 10
        history = first.history("fraud", stage="production")
        assert _chained(history) and history[0]["to_version"] == first.production("fraud")["version"]
        assert second.production("fraud")["version"] == history[0]["to_version"]

        time.sleep(5)  # a few re-evaluation fires, claimed by one of the two workers each
        runs = first.job_runs("reevaluate", limit=1000)
        instants = [run["scheduled_for"] for run in runs]
        assert len(runs) >= 2 and len(set(instants)) == len(instants)
        assert all(run["outcome"] in ("succeeded", "running") for run in runs)

        # every event since the subscription reached the receiver exactly once
        expected = {event["id"] for event in first.events(after=start)}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and \
                {arrival[0] for arrival in receiver.arrivals} < expected:
            time.sleep(0.2)
        delivered = [arrival[0] for arrival in receiver.arrivals]
        assert set(delivered) == expected
        assert len(delivered) == len(set(delivered))
    receiver.close()

