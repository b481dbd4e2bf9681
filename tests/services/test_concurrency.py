"""Real threads against a real database: invariants hold under contention."""
import threading
from concurrent.futures import ThreadPoolExecutor

from registry.models import Event
from registry.services import models as model_service
from registry.services import versions as version_service
from registry.services.events import list_events

THREADS, PER_THREAD = 8, 50


def test_concurrent_creations_get_gapless_unique_numbers(app):
    app.test_client().post("/api/v1/models", json={"name": "busy"})

    def register(_thread):
        client = app.test_client()
        return [client.post("/api/v1/models/busy/versions", json={"run": {"metrics": {"a": 1}}})
                for _ in range(PER_THREAD)]

    with ThreadPoolExecutor(THREADS) as pool:
        responses = [r for batch in pool.map(register, range(THREADS)) for r in batch]
    assert sorted(r.status_code for r in responses) == [201] * (THREADS * PER_THREAD)
    numbers = sorted(r.json["version"] for r in responses)
    assert numbers == list(range(1, THREADS * PER_THREAD + 1))


def test_concurrent_idempotent_calls_create_once(app, db):
    model_service.create_model("busy", actor="t")

    def register(_):
        return version_service.register_version("busy", {"description": "same"}, actor="t",
                                                idempotency_key="one-key")[0]

    with ThreadPoolExecutor(8) as pool:
        views = list(pool.map(register, range(16)))
    assert {view["version"] for view in views} == {1}
    assert model_service.get_model("busy")["latest_version"] == 1


def test_event_seq_has_no_gaps_under_contention(app, db):
    for name in ("m0", "m1", "m2", "m3"):
        model_service.create_model(name, actor="t")

    def register(index):
        for _ in range(10):
            version_service.register_version(f"m{index % 4}", {}, actor="t")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(register, range(8)))
    seqs = [event.seq for event in Event.select(Event.seq).order_by(Event.seq)]
    assert seqs == list(range(1, 85))
    assert list_events(after=4, limit=1000)["last_seq"] == 84


def test_subscription_changes_racing_other_changes_never_deadlock(backend):
    """Every event's transaction and every subscription change take the subscriptions' lock
    and the event counter's row in the same order (PostgreSQL aborted one of them with
    'deadlock detected' when an event took the counter first)."""
    from registry.app import create_app
    loopback = {"allow_http": True, "allowed_networks": ["127.0.0.0/8"]}
    app = create_app({**backend, "webhook": loopback}, environ={})
    app.test_client().post("/api/v1/models", json={"name": "busy"})

    def register(_thread):
        client = app.test_client()
        return [client.post("/api/v1/models/busy/versions", json={}).status_code
                for _ in range(40)]

    def churn_subscriptions(_thread):
        client, codes = app.test_client(), []
        for _ in range(20):
            created = client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook",
                                                            "events": ["*"]})
            codes.append(created.status_code)
            if created.status_code == 201:
                codes.append(client.delete(f"/api/v1/webhooks/{created.json['id']}").status_code)
        return codes

    with ThreadPoolExecutor(6) as pool:
        registrations = pool.map(register, range(4))
        changes = pool.map(churn_subscriptions, range(2))
        codes = [code for batch in [*registrations, *changes] for code in batch]
    assert set(codes) <= {201, 204}, sorted(set(codes))


def test_ready_registrations_racing_promotions_keep_numbers_and_verdicts_their_own(app):
    """A registration takes its number last, after writing its rows and reading what its
    evaluation needs (services/versions._insert_version): no reader ever sees the number a row
    carries before, numbers stay gapless, and each stored verdict names its version's number."""
    client = app.test_client()
    client.post("/api/v1/models", json={"name": "busy"})
    client.put("/api/v1/models/busy/criteria", json={"stages": {"production": [
        {"metric": "auc", "op": ">=", "threshold": 0.8}]}})
    per_thread, seen_numbers, stop = 15, set(), threading.Event()

    def register(thread):
        own = app.test_client()
        return [own.post("/api/v1/models/busy/versions", json={
            "finalize": True, "source_uri": f"s3://busy/{thread}-{step}",
            "run": {"metrics": {"accuracy": 0.5}}},  # no auc: the verdict names the version
            headers={"Idempotency-Key": f"{thread}-{step}"} if step % 3 == 0 else {})
            for step in range(per_thread)]

    def promote_and_watch(_):
        own, codes = app.test_client(), []
        while not stop.is_set():
            page = own.get("/api/v1/models/busy/versions?limit=100").json["items"]
            seen_numbers.update(item["version"] for item in page)
            if page:
                codes.append(own.post("/api/v1/models/busy/promote", json={
                    "version": page[0]["version"], "stage": "staging"}).status_code)
        return codes

    with ThreadPoolExecutor(6) as pool:
        watcher = pool.submit(promote_and_watch, None)
        registrations = [r for batch in pool.map(register, range(5)) for r in batch]
        stop.set()
        promote_codes = watcher.result()
    assert [r.status_code for r in registrations] == [201] * (5 * per_thread)
    assert set(promote_codes) <= {200, 409}, promote_codes
    numbers = sorted(r.json["version"] for r in registrations)
    assert numbers == list(range(1, 5 * per_thread + 1))
    assert min(seen_numbers) >= 1
    for response in registrations:
        verdict = response.json["evaluations"]["production"]
        assert verdict["version"] == response.json["version"] and not verdict["passed"]
        assert verdict["results"][0]["message"].startswith(
            f"Version {response.json['version']} has no auc")
