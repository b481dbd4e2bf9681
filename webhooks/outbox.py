"""The outbox: one delivery row per matching subscription, written in the event's transaction."""
from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Callable

from webhooks.db import database, is_postgres, select_prepared
from webhooks.models import Delivery, WebhookSubscription

CHANNEL = "modelyard_deliveries"
SUBSCRIPTIONS_LOCK = 0x77686F6F6B  # "whook": subscription changes vs. event fan-out
_enqueued = threading.Condition()
# Changes to webhooks, deliveries and tokens are in the event feed and the audit trail, but
# are not sent to webhooks (a subscription would otherwise announce its own creation).
INTERNAL_EVENTS = ("webhook.", "delivery.", "token.")


def _wake_dispatchers() -> None:
    with _enqueued:
        _enqueued.notify_all()


def wait_for_work(timeout_s: float) -> None:
    """Sleep until a delivery is enqueued in this process, or `timeout_s` passes."""
    with _enqueued:
        _enqueued.wait(timeout_s)


def lock_subscriptions() -> None:
    """Order a subscription change against event fan-out, which takes the same lock shared
    (PostgreSQL; SQLite's write lock already does): a subscription committed before an event's
    transaction reads the subscriptions receives that event, one deleted before does not."""
    if is_postgres():
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (SUBSCRIPTIONS_LOCK,))


_SHARED_LOCK = ("lock_subscriptions_shared", lambda param: (
    f"SELECT pg_advisory_xact_lock_shared({param(1)})"), (SUBSCRIPTIONS_LOCK,))


def matches(subscription: WebhookSubscription, event_type: str, model: str | None,
            stage: str | None = None) -> bool:
    wanted = subscription.events
    return ("*" in wanted or event_type in wanted) and (
        subscription.models is None or (model is not None and model in subscription.models)) and (
        subscription.stages is None or (stage is not None and stage in subscription.stages))


def payload(event: dict, production_version: int | None) -> str:
    """The body sent on every attempt: `{type, timestamp, data}`."""
    data = event["data"]
    previous = data.get("previous_version", data.get("rolled_back_version"))
    body = {"type": event["type"], "timestamp": event["at"],
            "data": {**data, "id": event["id"], "seq": event["seq"], "model": event["model"],
                     "version": event["version"], "previous_version": previous,
                     "production_version": production_version, "actor": event["actor"]}}
    return json.dumps(body, separators=(",", ":"))


def active_subscriptions() -> list[WebhookSubscription]:
    """Every active subscription, read inside the events' transaction under the subscriptions'
    shared lock (held to commit); `wanting` picks those an event goes to. Call it before the
    event counter's row is locked: a subscription change takes this lock first and the counter
    second, and the opposite order deadlocks against it."""
    if database.transaction_depth() == 0:
        raise RuntimeError("subscriptions must be read inside the event's transaction")
    return select_prepared("active_subscriptions", WebhookSubscription,
                           lambda _param: "WHERE active", (),
                           after=_SHARED_LOCK if is_postgres() else None)


def wanting(active: list[WebhookSubscription], event_type: str, model: str | None,
            stage: str | None = None) -> list[WebhookSubscription]:
    """Those of `active` that want an event (internal events go to none)."""
    if event_type.startswith(INTERNAL_EVENTS):
        return []
    return [s for s in active if matches(s, event_type, model, stage)]


def enqueue(event: dict, targets: list[WebhookSubscription], *, at: dt.datetime,
            production_version: Callable[[], int | None]) -> int:
    """Write a pending delivery of `event` (its public view) for each of `targets` (from
    wanting()), inside the caller's transaction; returns how many. `production_version` is
    called only when someone listens."""
    if not targets:
        return 0
    body = payload(event, production_version())
    Delivery.insert_many([{
        "subscription": target.id, "event_id": event["id"], "event_seq": event["seq"],
        "event_type": event["type"], "model_name": event["model"] or "", "body": body,
        "next_attempt_at": at, "created_at": at} for target in targets
    ]).execute()
    announce()
    return len(targets)


def announce() -> None:
    """Inside a transaction that made deliveries due: wake dispatchers when it commits, in this
    process and (on PostgreSQL, through NOTIFY) in every other."""
    if is_postgres():
        database.execute_sql("SELECT pg_notify(%s, '')", (CHANNEL,))
    database.after_commit(_wake_dispatchers)
