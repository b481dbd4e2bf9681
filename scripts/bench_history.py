#!/usr/bin/env python3
"""Rollback and `?at=` against the length of a stage's history: a model whose production has
0, 5,000 and 50,000 earlier moves (seeded in bulk, alternating two versions), then 15 rollbacks
(each followed by a promotion back) and 15 `?at=` look-ups; p50 of each. In process, through
the Flask app (the server's routes and services, no HTTP), on SQLite or PostgreSQL.

    python scripts/bench_history.py [--backend sqlite|postgres] [--pg-url URL] [--json]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import benchlib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from registry.app import create_app  # noqa: E402
from registry.config import load_config  # noqa: E402
from registry.db import database  # noqa: E402
from registry.models import RegisteredModel, StageMove  # noqa: E402
from tests.api.helpers import create_model, promote, ready_version  # noqa: E402


def _app(backend: str, pg_url: str):
    database_url = ""
    if backend == "postgres":
        benchlib.reset_postgres(pg_url)
        database_url = pg_url
    config = load_config({"server": {"data_dir": tempfile.mkdtemp()},
                          "database": {"url": database_url}, "auth": {"enabled": False}},
                         environ={})
    return create_app(config=config)


def _seed_moves(count: int) -> None:
    with database.connection_context(), database.atomic():
        model = RegisteredModel.get(RegisteredModel.name == "fraud")
        start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
        rows = [{"model": model.id, "stage": "production", "from_version": 1 + i % 2,
                 "to_version": 2 - i % 2, "action": "promote", "actor": "seed",
                 "at": start + dt.timedelta(seconds=i)} for i in range(count)]
        for first in range(0, count, 5000):
            StageMove.insert_many(rows[first:first + 5000]).execute()


def measure(backend: str, pg_url: str, moves: int) -> dict:
    client = _app(backend, pg_url).test_client()
    create_model(client)
    for version in (1, 2, 3):
        ready_version(client)
    promote(client, version=1)
    promote(client, version=2)
    _seed_moves(moves)
    promote(client, version=3)
    promote(client, version=2)
    rollbacks, lookups = [], []
    for _ in range(15):
        started = time.perf_counter()
        answer = client.post("/api/v1/models/fraud/rollback", json={})
        rollbacks.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.json
        promote(client, version=2)
        started = time.perf_counter()
        answer = client.get("/api/v1/models/fraud/history?stage=production"
                            "&at=2020-01-01T00:10:00Z")
        lookups.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200
    database.close_all() if hasattr(database, "close_all") else None
    return {"backend": backend, "moves": moves,
            "rollback_p50_ms": round(statistics.median(rollbacks), 1),
            "at_p50_ms": round(statistics.median(lookups), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-url", default=benchlib.DEFAULT_PG_URL)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [measure(args.backend, args.pg_url, moves) for moves in (0, 5000, 50000)]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(f"{r['backend']}: {r['moves']:>6} earlier moves: rollback p50 "
              f"{r['rollback_p50_ms']} ms, ?at= p50 {r['at_p50_ms']} ms")


if __name__ == "__main__":
    main()
