"""The dispatcher: claims due deliveries safely beside other dispatchers, sends, records.

Claiming takes, per (subscription, model), only the oldest undelivered event, so deliveries
arrive in `seq` order per model. On PostgreSQL rows are claimed with `FOR UPDATE SKIP LOCKED`;
on SQLite the claim is one write transaction, which the database serialises. A claim is a lease:
a dispatcher killed mid-attempt leaves its rows to be claimed again when the lease runs out
(at least once; a receiver may see that attempt twice).
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import select
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import psycopg2
from peewee import fn
from standardwebhooks import Webhook

from webhooks import outbox, secrets, transport
from webhooks.db import database, is_postgres, utcnow
from webhooks.models import Delivery, DeliveryAttempt, WebhookSubscription
from webhooks.settings import Settings

log = logging.getLogger(__name__)
Sender = Callable[[str, bytes, dict, Settings], transport.Outcome]


def claim(settings: Settings, *, limit: int, now: dt.datetime) -> list[Delivery]:
    """Mark up to `limit` due deliveries as ours until their lease ends; returns them."""
    earlier = Delivery.alias()
    blocked = earlier.select(earlier.id).where(
        (earlier.subscription == Delivery.subscription)
        & (earlier.model_name == Delivery.model_name)
        & (earlier.event_seq < Delivery.event_seq)
        & earlier.status.in_(("pending", "delivering")))
    due = (((Delivery.status == "pending") & (Delivery.next_attempt_at <= now))
           | ((Delivery.status == "delivering") & (Delivery.lease_until < now)))
    lease = now + dt.timedelta(seconds=2 * settings.attempt_timeout_s + 5)
    if not Delivery.select().where(due).exists():
        return []  # a cheap read first: an idle poll takes no write lock
    with database.atomic():
        query = (Delivery.select(Delivery.id).join(WebhookSubscription)
                 .where(due & WebhookSubscription.active & ~fn.EXISTS(blocked))
                 .order_by(Delivery.event_seq, Delivery.id).limit(limit))
        if is_postgres():
            query = query.for_update(of=Delivery, skip_locked=True)
        ids = [row.id for row in query]
        if not ids:
            return []
        Delivery.update(status="delivering", lease_until=lease).where(Delivery.id.in_(ids)).execute()
    return list(Delivery.select().where(Delivery.id.in_(ids)).order_by(Delivery.event_seq))


def _signature(subscription: WebhookSubscription, event_id: str, at: dt.datetime, body: str,
               settings: Settings) -> str:
    """`v1,<sig>`; during a rotation's overlap, the previous secret's signature too."""
    keys = [subscription.secret]
    if subscription.previous_secret and subscription.previous_until and \
            subscription.previous_until > at:
        keys.append(subscription.previous_secret)
    return " ".join(Webhook(secrets.decrypt(key, settings.fernet_key)).sign(event_id, at, body)
                    for key in keys)


def _next_delay(attempt: int, outcome: transport.Outcome, settings: Settings,
                rng: random.Random) -> float | None:
    """Seconds before the next attempt, or None when the schedule is spent."""
    if attempt >= len(settings.retry_schedule_s):
        return None
    delay = settings.retry_schedule_s[attempt]
    delay *= 1 + rng.uniform(-settings.retry_jitter, settings.retry_jitter)
    if outcome.retry_after_s is not None and (outcome.status_code == 429
                                              or (outcome.status_code or 0) >= 500):
        delay = max(delay, min(outcome.retry_after_s, 86400))
    return delay


def _result_text(outcome: transport.Outcome) -> str:
    return f"HTTP {outcome.status_code}" if outcome.status_code else (outcome.error or "error")


def record(delivery: Delivery, outcome: transport.Outcome, settings: Settings, *,
           now: dt.datetime, rng: random.Random) -> None:
    """Log the attempt and move the delivery on, if our lease on it still holds."""
    ok = outcome.status_code is not None and 200 <= outcome.status_code < 300
    number = delivery.attempts + 1
    with database.atomic():
        current = Delivery.get_or_none((Delivery.id == delivery.id)
                                       & (Delivery.lease_until == delivery.lease_until)
                                       & (Delivery.status == "delivering"))
        if current is None:
            return  # the lease ran out and someone else took it over
        DeliveryAttempt.create(delivery=current, number=number, at=now,
                               status_code=outcome.status_code, error=outcome.error,
                               latency_ms=outcome.latency_ms, response_excerpt=outcome.excerpt)
        subscription = current.subscription
        current.attempts, current.lease_until, current.last_result = number, None, _result_text(outcome)
        if ok:
            current.status, current.delivered_at = "delivered", now
            subscription.failing_since = None
        elif outcome.status_code == 410:
            current.status = "failed"
            _disable(subscription, "the receiver answered 410 Gone", now)
        elif outcome.refused:  # the SSRF guard said no: the same URL will be refused again
            current.status = "failed"
        else:
            delay = _next_delay(number - current.retry_base, outcome, settings, rng)
            if delay is None:
                current.status = "failed"
            else:
                current.status = "pending"
                current.next_attempt_at = now + dt.timedelta(seconds=delay)
            subscription.failing_since = subscription.failing_since or now
            if (now - subscription.failing_since).total_seconds() > settings.disable_after_failing_s:
                _disable(subscription, f"every delivery failed for more than "
                                       f"{settings.disable_after_failing_s} s", now)
        current.save()
        subscription.save(only=[WebhookSubscription.failing_since, WebhookSubscription.active,
                                WebhookSubscription.disabled_reason,
                                WebhookSubscription.disabled_at])


def _disable(subscription: WebhookSubscription, reason: str, now: dt.datetime) -> None:
    subscription.active, subscription.disabled_reason, subscription.disabled_at = False, reason, now
    log.warning("webhook %s disabled: %s", subscription.id, reason)


class Dispatcher:
    """Claims and sends due deliveries until stopped. `sender` and `clock` are injectable."""

    def __init__(self, settings: Settings, *, sender: Sender = transport.post,
                 clock: Callable[[], dt.datetime] = utcnow, threads: int = 8,
                 rng: random.Random | None = None) -> None:
        self.settings, self.sender, self.clock = settings, sender, clock
        self.rng = rng or random.Random()
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="webhook-send")
        self.stopping = threading.Event()

    def _send(self, delivery: Delivery) -> None:
        at = self.clock()
        with database.connection_context():  # never held across the HTTP attempt
            subscription = delivery.subscription
            signature = _signature(subscription, delivery.event_id, at, delivery.body,
                                   self.settings)
        headers = {"content-type": "application/json", "webhook-id": delivery.event_id,
                   "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature,
                   "user-agent": "Modelyard-Webhooks/1"}
        outcome = self.sender(subscription.url, delivery.body.encode(), headers, self.settings)
        with database.connection_context():
            record(delivery, outcome, self.settings, now=self.clock(), rng=self.rng)

    def run_once(self) -> int:
        """Claim one batch and send it (in parallel: at most one per subscription and model);
        returns how many were sent."""
        with database.connection_context():
            batch = claim(self.settings, limit=self.settings.batch_size, now=self.clock())
        for future in [self.pool.submit(self._send, delivery) for delivery in batch]:
            try:
                future.result()
            except Exception:  # one bad delivery must not stop the others
                log.exception("webhook delivery failed unexpectedly")
        return len(batch)

    def run_forever(self) -> None:
        """Dispatch until `stop()`; sleeps until a commit announces work or the poll interval."""
        listener = _Listener() if is_postgres() else None
        while not self.stopping.is_set():
            try:
                if self.run_once():
                    continue
            except Exception:
                log.exception("webhook dispatcher pass failed; retrying")
            if listener:
                listener.wait(self.settings.poll_interval_s)
            else:
                outbox.wait_for_work(self.settings.poll_interval_s)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="webhook-dispatcher", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()


class _Listener:
    """LISTEN on PostgreSQL, so a commit in any process wakes this dispatcher at once."""

    def __init__(self) -> None:
        self.connection = None

    def wait(self, timeout_s: float) -> None:
        try:
            if self.connection is None or self.connection.closed:
                params = dict(database.obj.connect_params)
                self.connection = psycopg2.connect(dbname=database.obj.database, **params)
                self.connection.autocommit = True
                self.connection.cursor().execute(f"LISTEN {outbox.CHANNEL}")
            if select.select([self.connection], [], [], timeout_s)[0]:
                self.connection.poll()
                self.connection.notifies.clear()
        except (psycopg2.Error, OSError):
            log.warning("LISTEN connection lost; polling", exc_info=True)
            self.connection = None
            outbox.wait_for_work(timeout_s)
