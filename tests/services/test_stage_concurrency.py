"""Stage moves under contention, on both databases: real threads, real commits."""
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from registry.db import database
from registry.models import ModelVersion, RegisteredModel, StageMove
from tests.api.helpers import create_model, ready_version

THREADS = 16


class ProductionPoller(threading.Thread):
    """Counts production holders per model on its own connection, as fast as it can."""

    def __init__(self, names):
        super().__init__(daemon=True)
        self.names, self.seen, self.stop = names, [], threading.Event()

    def run(self):
        with database.connection_context():
            while not self.stop.is_set():
                for name in self.names:
                    count = (ModelVersion.select().join(RegisteredModel)
                             .where((RegisteredModel.name == name)
                                    & (ModelVersion.stage == "production")).count())
                    self.seen.append((name, count))
                time.sleep(0.0002)  # a reader spinning without a pause starves the GIL

    def assert_never_zero_or_two_once_held(self):
        self.stop.set()
        self.join()
        held = set()
        for name, count in self.seen:
            assert count <= 1, f"{name} had {count} production versions"
            if count:
                held.add(name)
            assert count == 1 or name not in held, f"{name} lost its production version"
        assert len(self.seen) > 50


def _assert_history_replays(model_name, stage="production"):
    """Each move starts where the previous one ended, and the last ends at the holder."""
    model = RegisteredModel.get(RegisteredModel.name == model_name)
    moves = list(StageMove.select().where((StageMove.model == model) & (StageMove.stage == stage))
                 .order_by(StageMove.id))
    holder = None
    for move in moves:
        assert move.from_version == holder, (move.id, move.from_version, holder)
        holder = move.to_version
    current = ModelVersion.get_or_none((ModelVersion.model == model) & (ModelVersion.stage == stage))
    assert holder == (current.version if current else None)
    return moves


def test_sixteen_threads_promoting_one_model(app):
    client = app.test_client()
    create_model(client)
    for _ in range(2 * THREADS):
        ready_version(client)
    client.post("/api/v1/models/fraud/promote", json={"version": 1})
    poller = ProductionPoller(["fraud"])
    poller.start()

    def promote_own_versions(index):
        own = app.test_client()
        return [own.post("/api/v1/models/fraud/promote",
                         json={"version": index + 1 + THREADS * (attempt % 2)}).status_code
                for attempt in range(8)]

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = [s for batch in pool.map(promote_own_versions, range(THREADS)) for s in batch]
    poller.assert_never_zero_or_two_once_held()
    assert set(statuses) <= {200, 409}, sorted(set(statuses))
    with database.connection_context():
        moves = _assert_history_replays("fraud")
    assert len(moves) == 1 + statuses.count(200)


def test_random_promotes_and_rollbacks_on_five_models(app):
    client = app.test_client()
    names = [f"m{i}" for i in range(5)]
    for name in names:
        create_model(client, name)
        for _ in range(6):
            ready_version(client, name)
        client.post(f"/api/v1/models/{name}/promote", json={"version": 1})
    poller = ProductionPoller(names)
    poller.start()

    def work(seed):
        rng, own = random.Random(seed), app.test_client()
        statuses = []
        for _ in range(2000 // THREADS):
            name = rng.choice(names)
            if rng.random() < 0.5:
                response = own.post(f"/api/v1/models/{name}/promote",
                                    json={"version": rng.randint(1, 6)})
            else:
                response = own.post(f"/api/v1/models/{name}/rollback", json={})
            statuses.append(response.status_code)
        return statuses

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = [s for batch in pool.map(work, range(THREADS)) for s in batch]
    poller.assert_never_zero_or_two_once_held()
    assert len(statuses) == 2000 and max(statuses) < 500, sorted(set(statuses))
    assert statuses.count(200) > 100
    with database.connection_context():
        for name in names:
            _assert_history_replays(name)
