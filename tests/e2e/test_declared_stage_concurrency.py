"""The production invariant, over a declared stage too, through HTTP on a real server: 16 threads
promote and roll back `canary` and `production` of one model at random while pollers check that
each stage always has at most one holder, never loses it once held, and that every stage's
history chains. On SQLite and on PostgreSQL."""
from __future__ import annotations

import os
import random
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import fresh_pg_database
from tests.e2e.conftest import free_port, running

THREADS = 16
MOVES_PER_THREAD = 25
STAGES = ("canary", "production")
VERSIONS = 8


class HolderPoller(threading.Thread):
    """Reads every version's `stages` in one request, over and over: each stage must be held by
    at most one version, and by exactly one once it has been held (a move replaces a holder,
    it never leaves the stage empty). The stage look-up must always answer 200 once held."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.stop, self.reads, self.problems = base, threading.Event(), 0, []
        self.session = requests.Session()

    def run(self) -> None:
        held: set[str] = set()
        while not self.stop.is_set():
            items = self.session.get(f"{self.base}/models/fraud/versions?limit=100").json()["items"]
            for stage in STAGES:
                holders = [v["version"] for v in items if stage in v["stages"]]
                if len(holders) > 1 or (stage in held and not holders):
                    self.problems.append((stage, holders))
                if holders:
                    held.add(stage)
                    status = self.session.get(f"{self.base}/models/fraud/stages/{stage}").status_code
                    if status != 200:
                        self.problems.append((stage, status))
            labelled = [v["version"] for v in items if v["stage"] == "production"]
            if len(labelled) > 1:
                self.problems.append(("production label", labelled))
            self.reads += 1


def _moves(base: str, seed: int) -> list[int]:
    rng, session, statuses = random.Random(seed), requests.Session(), []
    for _ in range(MOVES_PER_THREAD):
        stage = rng.choice(STAGES)
        if rng.random() < 0.55:
            answer = session.post(f"{base}/models/fraud/promote",
                                  json={"version": rng.randint(1, VERSIONS), "stage": stage})
        else:
            answer = session.post(f"{base}/models/fraud/rollback", json={"stage": stage},
                                  headers={"Idempotency-Key": f"{seed}-{rng.random()}"})
        statuses.append(answer.status_code)
    return statuses


def _history(base: str, stage: str) -> list[dict]:
    moves, cursor = [], None
    while True:
        page = requests.get(f"{base}/models/fraud/history",
                            params={"stage": stage, "limit": 1000, **({"cursor": cursor}
                                                                      if cursor else {})}).json()
        moves += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return list(reversed(moves))


def _assert_chained(base: str, stage: str) -> int:
    """Each move starts where the previous one ended; the last ends at the holder."""
    holder = None
    moves = _history(base, stage)
    for move in moves:
        assert move["from_version"] == holder, (stage, move)
        holder = move["to_version"]
    assert requests.get(f"{base}/models/fraud/stages/{stage}").json()["version"] == holder
    return len(moves)


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_sixteen_threads_moving_canary_and_production(tmp_path, database):
    url = fresh_pg_database("modelyard_test_declared") if database == "postgres" else ""
    port = free_port()
    env = {**os.environ, "MODELYARD_CONFIG": "", "DATABASE_URL": url,
           "MODELYARD_SERVER_DATA_DIR": str(tmp_path / "data")}
    root = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-m", "registry", "serve", "--port", str(port)], root, env=env):
        base = f"{root}/api/v1"
        assert requests.post(f"{base}/models", json={"name": "fraud"}).status_code == 201
        assert requests.post(f"{base}/models/fraud/stages",
                             json={"name": "canary"}).status_code == 201
        for number in range(1, VERSIONS + 1):
            requests.post(f"{base}/models/fraud/versions", json={"source_uri": "s3://b/m"})
            assert requests.post(f"{base}/models/fraud/versions/{number}/finalize").ok
        pollers = [HolderPoller(base) for _ in range(2)]
        for poller in pollers:
            poller.start()
        with ThreadPoolExecutor(THREADS) as pool:
            statuses = [s for batch in pool.map(lambda seed: _moves(base, seed), range(THREADS))
                        for s in batch]
        for poller in pollers:
            poller.stop.set()
            poller.join()
        assert [p.problems for p in pollers] == [[], []]
        assert min(p.reads for p in pollers) > 10
        assert set(statuses) <= {200, 409}, sorted(set(statuses))
        moved = statuses.count(200)
        assert moved > THREADS
        history_rows = sum(_assert_chained(base, stage) for stage in STAGES)
        # every successful move wrote one row for its stage (production promotions of the
        # canary holder leave canary alone: it is not a built-in)
        assert history_rows == moved
