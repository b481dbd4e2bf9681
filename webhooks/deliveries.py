"""The delivery log: deliveries with every attempt, and redelivery."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from webhooks.db import rfc3339, require_transaction, utcnow
from webhooks.errors import DeliveryNotFound
from webhooks.models import Delivery, DeliveryAttempt
from webhooks.outbox import announce
from webhooks.pages import newest_first
from webhooks.subscriptions import find


def _attempt_view(attempt: DeliveryAttempt) -> dict:
    return {"number": attempt.number, "at": rfc3339(attempt.at),
            "status_code": attempt.status_code, "error": attempt.error,
            "latency_ms": attempt.latency_ms, "response_excerpt": attempt.response_excerpt}


def delivery_views(rows: list[Delivery]) -> list[dict]:
    attempts: dict[int, list] = defaultdict(list)
    for attempt in (DeliveryAttempt.select().where(DeliveryAttempt.delivery.in_([r.id for r in rows]))
                    .order_by(DeliveryAttempt.number)):
        attempts[attempt.delivery_id].append(_attempt_view(attempt))
    return [{"id": row.id, "subscription_id": row.subscription_id, "event_id": row.event_id,
             "event_seq": row.event_seq, "event_type": row.event_type, "model": row.model_name or None,
             "status": row.status, "attempt_count": row.attempts,
             "next_attempt_at": rfc3339(row.next_attempt_at) if row.status == "pending" else None,
             "delivered_at": rfc3339(row.delivered_at), "last_result": row.last_result,
             "created_at": rfc3339(row.created_at), "attempts": attempts[row.id]} for row in rows]


def list_deliveries(subscription_id: int, *, status: str | None = None, limit: int = 50,
                    cursor: str | None = None) -> dict:
    """A subscription's deliveries, newest first, each with its attempts. Raises
    SubscriptionNotFound, InvalidCursor."""
    find(subscription_id)
    query = Delivery.select().where(Delivery.subscription == subscription_id)
    if status:
        query = query.where(Delivery.status == status)
    rows, next_cursor = newest_first(query, Delivery.id, limit=limit, cursor=cursor)
    return {"items": delivery_views(rows), "next_cursor": next_cursor}


def redeliver(delivery_id: int, *, now: dt.datetime | None = None) -> dict:
    """Send a delivery again, same webhook-id and body, with a fresh retry schedule; it keeps
    its place in its model's order. Raises DeliveryNotFound."""
    now = now or utcnow()
    require_transaction("deliveries.redeliver")
    row = Delivery.get_or_none(Delivery.id == delivery_id)
    if row is None:
        raise DeliveryNotFound(f"delivery {delivery_id} does not exist")
    if row.status != "delivering":  # one in flight finishes and is recorded first
        row.status, row.next_attempt_at, row.retry_base = "pending", now, row.attempts
        row.save()
        announce()
    return delivery_views([row])[0]

