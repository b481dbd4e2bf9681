"""Delivery end to end: a real receiver on loopback, signatures checked by standardwebhooks."""
import datetime as dt
import json
import threading

import pytest
from standardwebhooks import Webhook
from werkzeug import Response

from registry.app import create_app
from registry.db import database
from tests.api.helpers import create_model, promote, ready_version
from webhooks.dispatcher import Dispatcher
from webhooks.models import Delivery

LOOPBACK = {"allow_http": True, "allowed_networks": ["127.0.0.0/8"],
            "retry_schedule_s": [0, 5, 60], "retry_jitter": 0}


class Clock:
    """Real time plus however far a test has moved it on."""

    def __init__(self):
        self.offset = dt.timedelta()

    def __call__(self):
        return dt.datetime.now(dt.timezone.utc) + self.offset

    def advance(self, seconds):
        self.offset += dt.timedelta(seconds=seconds)


@pytest.fixture
def hooks(backend, httpserver):
    app = create_app({**backend, "webhook": LOOPBACK}, environ={})
    clock = Clock()
    dispatcher = Dispatcher(app.extensions["modelyard_webhooks"], clock=clock)
    yield app.test_client(), dispatcher, clock, httpserver
    dispatcher.pool.shutdown()


def subscribe(client, url, **extra):
    response = client.post("/api/v1/webhooks", json={"url": url, "events": ["*"], **extra})
    assert response.status_code == 201, response.json
    return response.json


def received(httpserver):
    return [(request, request.get_data()) for request, _ in httpserver.log]


def deliver_to_a_failing_receiver(client, dispatcher, clock, httpserver, *, steps):
    """A receiver answering 500, one event, and a dispatcher pass after each clock step."""
    httpserver.expect_request("/hook").respond_with_data("no", status=500)
    subscribe(client, httpserver.url_for("/hook"))
    create_model(client)
    for step in steps:
        clock.advance(step)
        run(dispatcher)


def run(dispatcher, passes=1):
    return sum(dispatcher.run_once() for _ in range(passes))


def test_a_promotion_arrives_signed_with_the_event_id(hooks):
    client, dispatcher, _, httpserver = hooks
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    secret = subscribe(client, httpserver.url_for("/hook"), events=["model.promoted"])["secret"]
    assert secret.startswith("whsec_")
    create_model(client)
    ready_version(client)
    answer = promote(client, version=1).json
    assert run(dispatcher) == 1
    [(request, body)] = received(httpserver)
    payload = Webhook(secret).verify(body, dict(request.headers))
    event = client.get("/api/v1/events?type=model.promoted").json["items"][0]
    assert request.headers["webhook-id"] == event["id"]
    assert payload["type"] == "model.promoted" and payload["timestamp"] == event["at"]
    data = payload["data"]
    assert (data["model"], data["version"], data["previous_version"]) == ("fraud", 1, None)
    assert (data["production_version"], data["seq"]) == (1, answer["event_seq"])
    log = client.get("/api/v1/webhooks/1/deliveries").json["items"][0]
    assert log["status"] == "delivered" and log["attempts"][0]["status_code"] == 200
    assert log["attempts"][0]["response_excerpt"] == "ok"
    assert "secret" not in client.get("/api/v1/webhooks/1").json


def test_failures_back_off_honouring_retry_after_with_identical_bytes(hooks):
    client, dispatcher, clock, httpserver = hooks
    httpserver.expect_ordered_request("/hook").respond_with_response(
        Response("busy", status=503, headers={"Retry-After": "30"}))
    httpserver.expect_ordered_request("/hook").respond_with_response(Response("x", status=500))
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    subscribe(client, httpserver.url_for("/hook"))
    create_model(client)
    assert run(dispatcher) == 1
    delivery = client.get("/api/v1/webhooks/1/deliveries").json["items"][0]
    assert delivery["status"] == "pending" and delivery["last_result"] == "HTTP 503"
    clock.advance(29)
    assert run(dispatcher) == 0  # Retry-After beats the 5 s schedule step
    clock.advance(2)
    assert run(dispatcher) == 1
    clock.advance(61)
    assert run(dispatcher) == 1
    bodies = {body for _, body in received(httpserver)}
    ids = {request.headers["webhook-id"] for request, _ in received(httpserver)}
    assert len(bodies) == 1 and len(ids) == 1
    log = client.get("/api/v1/webhooks/1/deliveries").json["items"][0]
    assert [a["status_code"] for a in log["attempts"]] == [503, 500, 200]


def test_the_last_failure_marks_the_delivery_failed_and_redeliver_resends(hooks):
    client, dispatcher, clock, httpserver = hooks
    deliver_to_a_failing_receiver(client, dispatcher, clock, httpserver, steps=(0, 6, 61))
    delivery = client.get("/api/v1/webhooks/1/deliveries?status=failed").json["items"][0]
    assert delivery["attempt_count"] == 3
    again = client.post(f"/api/v1/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 202 and again.json["status"] == "pending"
    assert run(dispatcher) == 1
    assert len(received(httpserver)) == 4


def test_410_disables_the_subscription(hooks):
    client, dispatcher, _, httpserver = hooks
    httpserver.expect_request("/hook").respond_with_data("gone", status=410)
    subscribe(client, httpserver.url_for("/hook"))
    create_model(client)
    run(dispatcher)
    subscription = client.get("/api/v1/webhooks/1").json
    assert subscription["active"] is False and "410" in subscription["disabled_reason"]
    create_model(client, "other")
    assert run(dispatcher) == 0
    enabled = client.patch("/api/v1/webhooks/1", json={"active": True}).json
    assert enabled["active"] and enabled["disabled_reason"] is None


def test_per_model_order_holds_while_the_first_event_retries(hooks):
    client, dispatcher, clock, httpserver = hooks
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=503)
    for _ in range(4):
        httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    subscribe(client, httpserver.url_for("/hook"), models=["fraud"])
    create_model(client)
    client.patch("/api/v1/models/fraud", json={"description": "a"})
    client.patch("/api/v1/models/fraud", json={"description": "b"})
    create_model(client, "unwatched")
    assert run(dispatcher) == 1  # only the first of fraud's three
    clock.advance(6)
    run(dispatcher, passes=3)
    seqs = [json.loads(body)["data"]["seq"] for _, body in received(httpserver)]
    assert seqs[0] == seqs[1] and seqs[1:] == sorted(seqs[1:]) and len(seqs) == 4


def test_rotation_sends_both_signatures_during_the_overlap(hooks):
    client, dispatcher, _, httpserver = hooks
    httpserver.expect_request("/hook").respond_with_data("ok")
    old = subscribe(client, httpserver.url_for("/hook"))["secret"]
    new = client.post("/api/v1/webhooks/1/rotate-secret").json["secret"]
    assert new != old
    create_model(client)
    run(dispatcher)
    [(request, body)] = received(httpserver)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(body, dict(request.headers))


def test_test_endpoint_and_deleted_subscriptions(hooks):
    client, dispatcher, _, httpserver = hooks
    httpserver.expect_request("/hook").respond_with_data("ok")
    subscribe(client, httpserver.url_for("/hook"))
    queued = client.post("/api/v1/webhooks/1/test")
    assert queued.status_code == 202
    run(dispatcher)
    assert json.loads(received(httpserver)[0][1])["type"] == "webhook.test"
    assert client.delete("/api/v1/webhooks/1").status_code == 204
    create_model(client)
    with database.connection_context():
        assert Delivery.select().count() == 0
    assert client.get("/api/v1/webhooks/1").status_code == 404


def test_a_subscription_failing_for_too_long_is_disabled(backend, httpserver):
    app = create_app({**backend, "webhook": {**LOOPBACK, "disable_after_failing_s": 60,
                                             "retry_schedule_s": [0, 40, 40, 40]}}, environ={})
    clock = Clock()
    dispatcher = Dispatcher(app.extensions["modelyard_webhooks"], clock=clock)
    client = app.test_client()
    deliver_to_a_failing_receiver(client, dispatcher, clock, httpserver, steps=(0, 41, 41))
    subscription = client.get("/api/v1/webhooks/1").json
    assert subscription["active"] is False and "failed for more than 60 s" in \
        subscription["disabled_reason"]
    dispatcher.pool.shutdown()


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://x.example/", "events": ["*"]}, "url"),
    ({"url": "http://x.example/", "events": ["*"]}, "url"),  # http needs the setting
    ({"url": "https://x.example/", "events": []}, "events"),
    ({"url": "https://x.example/", "events": ["Bad Type"]}, "events"),
])
def test_invalid_subscriptions_are_refused(client, body, field):
    response = client.post("/api/v1/webhooks", json=body)
    assert response.status_code == 422 and field in response.json["errors"]


def test_three_dispatchers_deliver_each_event_once_in_order(hooks):
    client, _, _, httpserver = hooks
    httpserver.expect_request("/hook").respond_with_data("ok")
    subscribe(client, httpserver.url_for("/hook"))
    for index in range(6):
        create_model(client, f"m{index}")
        for step in range(9):
            client.patch(f"/api/v1/models/m{index}", json={"description": str(step)})
    settings = client.application.extensions["modelyard_webhooks"]
    dispatchers = [Dispatcher(settings) for _ in range(3)]
    threads = [dispatcher.start() for dispatcher in dispatchers]
    deadline = dt.datetime.now() + dt.timedelta(seconds=60)
    while len(httpserver.log) < 60 and dt.datetime.now() < deadline:
        threading.Event().wait(0.1)
    for dispatcher, thread in zip(dispatchers, threads):
        dispatcher.stop()
        thread.join(10)
        dispatcher.pool.shutdown()
    payloads = [json.loads(body)["data"] for _, body in received(httpserver)]
    assert sorted(p["id"] for p in payloads) == sorted({p["id"] for p in payloads})
    assert len(payloads) == 60
    for index in range(6):
        seqs = [p["seq"] for p in payloads if p["model"] == f"m{index}"]
        assert seqs == sorted(seqs)


NON_PUBLIC_LITERALS = ["https://169.254.169.254/latest/meta-data/", "https://127.0.0.1:8443/",
                       "https://[::ffff:127.0.0.1]/", "https://2130706433/", "https://127.1/",
                       "https://0x7f.0.0.1/", "https://[::1]/", "https://10.1.2.3/",
                       "https://[fe80::1]/", "https://0/"]


@pytest.mark.parametrize("url", NON_PUBLIC_LITERALS)
def test_a_non_public_address_literal_is_refused_at_create_and_patch(client, url):
    refused = client.post("/api/v1/webhooks", json={"url": url, "events": ["*"]})
    assert refused.status_code == 422, refused.json
    assert "is not public" in refused.json["errors"]["url"][0]
    allowed = subscribe(client, "https://hooks.example.com/x")
    patched = client.patch(f"/api/v1/webhooks/{allowed['id']}", json={"url": url})
    assert patched.status_code == 422 and "is not public" in patched.json["errors"]["url"][0]
    assert client.get(f"/api/v1/webhooks/{allowed['id']}").json["url"] == \
        "https://hooks.example.com/x"
    assert len(client.get("/api/v1/webhooks").json) == 1


def test_a_literal_inside_allowed_networks_is_accepted(hooks):
    client, *_ = hooks
    subscribe(client, "http://127.0.0.1:9/hook")


def test_a_delivery_the_guard_refuses_fails_at_once_with_the_reason(backend):
    app = create_app({**backend, "webhook": {"allow_http": True, "retry_schedule_s": [0, 5, 60]}},
                     environ={})
    client = app.test_client()
    dispatcher = Dispatcher(app.extensions["modelyard_webhooks"])
    try:
        hook = subscribe(client, "http://localhost:9/hook")  # a name: checked when connecting
        create_model(client, "m")
        assert run(dispatcher) == 1
        deliveries = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json["items"]
        assert [d["status"] for d in deliveries] == ["failed"]
        attempt, = deliveries[0]["attempts"]
        assert "refused: address" in attempt["error"] and "is not public" in attempt["error"]
    finally:
        dispatcher.pool.shutdown()


def test_a_bad_cursor_is_the_same_problem_on_every_list(client):
    hook = subscribe(client, "https://hooks.example.com/x")
    for path in (f"/api/v1/webhooks/{hook['id']}/deliveries", "/api/v1/models",
                 "/api/v1/audit"):
        answer = client.get(f"{path}?cursor=bm90LW91cnM")
        assert answer.status_code == 422, (path, answer.json)
        assert answer.json["type"].endswith("/invalid-input")
        assert answer.json["errors"] == {"cursor": ["invalid"]}


def test_a_version_created_ready_sends_both_events_in_order_and_chains_their_audit(hooks):
    """`finalize: true` appends version.created and version.ready in one statement each for
    events and audit records: consecutive seqs, both delivered in order, the chain intact."""
    client, dispatcher, _clock, httpserver = hooks
    httpserver.expect_request("/hook").respond_with_data("ok")
    create_model(client)
    subscribe(client, httpserver.url_for("/hook"), events=["version.created", "version.ready"])
    made = client.post("/api/v1/models/fraud/versions",
                       json={"finalize": True, "source_uri": "s3://models/fraud/1"})
    assert made.status_code == 201, made.json
    run(dispatcher, passes=3)
    bodies = [json.loads(body) for _request, body in received(httpserver)]
    assert [b["type"] for b in bodies] == ["version.created", "version.ready"]
    seqs = [b["data"]["seq"] for b in bodies]
    assert seqs[1] == seqs[0] + 1
    with database.connection_context():
        from registry.services import audit
        assert audit.verify() == []
        actions = [r["action"] for r in audit.list_audit(limit=2).items]
    assert actions == ["version.ready", "version.created"]
