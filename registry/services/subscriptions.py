"""Webhook subscription use cases. The rows live in webhooks/ (which cannot import registry);
here each change gets its event and audit record in the same transaction."""
from __future__ import annotations

import datetime as dt
from typing import Callable

from registry.db import write_transaction
from registry.domain import events
from registry.services.events import append_event
from webhooks import deliveries, subscriptions
from webhooks.settings import Settings


def _audited(action: events.EventType, change: Callable[[], dict | None], *, actor: str,
             target: dict) -> dict | None:
    """Run `change` (the webhooks package's write, which requires a transaction) and append the
    event `action` with `target` and the change's answer, secret removed, in this one
    transaction."""
    with write_transaction():
        answer = change()
        shown = {key: value for key, value in (answer or {}).items() if key != "secret"}
        append_event(action, actor=actor, data={**target, "after": shown})
    return answer


def list_subscriptions() -> list[dict]:
    """Every subscription, oldest first (secrets never shown)."""
    return subscriptions.list_all()


def get_subscription(webhook_id: int) -> dict:
    """Raises SubscriptionNotFound."""
    return subscriptions.get(webhook_id)


def list_deliveries(webhook_id: int, *, status: str | None = None, limit: int = 50,
                    cursor: str | None = None) -> dict:
    """A subscription's deliveries, newest first, with their attempts. Raises
    SubscriptionNotFound, InvalidCursor."""
    return deliveries.list_deliveries(webhook_id, status=status, limit=limit, cursor=cursor)


def create_subscription(spec: dict, *, actor: str, settings: Settings) -> dict:
    """A new subscription with its one-time secret; raises InvalidSubscription."""
    return _audited(events.WEBHOOK_CREATED, lambda: subscriptions.create(spec, settings=settings),
                    actor=actor, target={})


def update_subscription(webhook_id: int, changes: dict, *, actor: str,
                        settings: Settings) -> dict:
    """Raises SubscriptionNotFound, InvalidSubscription."""
    return _audited(events.WEBHOOK_UPDATED,
                    lambda: subscriptions.update(webhook_id, changes, settings=settings),
                    actor=actor, target={"webhook_id": webhook_id})


def delete_subscription(webhook_id: int, *, actor: str) -> None:
    """Removes it with its undelivered deliveries; raises SubscriptionNotFound."""
    _audited(events.WEBHOOK_DELETED, lambda: subscriptions.delete(webhook_id), actor=actor,
             target={"webhook_id": webhook_id})


def rotate_secret(webhook_id: int, *, actor: str, settings: Settings,
                  now: dt.datetime | None = None) -> dict:
    """A new secret, shown once; raises SubscriptionNotFound."""
    return _audited(events.WEBHOOK_SECRET_ROTATED,
                    lambda: subscriptions.rotate_secret(webhook_id, settings=settings, now=now),
                    actor=actor, target={"webhook_id": webhook_id})


def send_test(webhook_id: int, *, actor: str) -> dict:
    """Queues a `webhook.test` delivery; raises SubscriptionNotFound."""
    return _audited(events.WEBHOOK_TESTED, lambda: subscriptions.send_test(webhook_id), actor=actor,
                    target={"webhook_id": webhook_id})


def redeliver(delivery_id: int, *, actor: str) -> dict:
    """Sends a delivery again; raises DeliveryNotFound."""
    return _audited(events.DELIVERY_REDELIVERED, lambda: deliveries.redeliver(delivery_id),
                    actor=actor, target={"delivery_id": delivery_id})
