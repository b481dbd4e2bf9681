"""Subscriptions: create (secret shown once), read, change, delete, rotate, test."""
from __future__ import annotations

import datetime as dt
import json
import uuid

from webhooks import secrets
from webhooks.db import rfc3339, require_transaction, utcnow
from webhooks.errors import InvalidSubscription, SubscriptionNotFound
from webhooks.models import Delivery, WebhookSubscription
from webhooks.outbox import announce, lock_subscriptions
from webhooks.settings import Settings
from webhooks.transport import Refused, check_url


def view(row: WebhookSubscription) -> dict:
    return {"id": row.id, "url": row.url, "events": row.events, "models": row.models,
            "stages": row.stages,
            "description": row.description, "active": row.active,
            "disabled_reason": row.disabled_reason, "disabled_at": rfc3339(row.disabled_at),
            "failing_since": rfc3339(row.failing_since),
            "previous_secret_until": rfc3339(row.previous_until),
            "created_at": rfc3339(row.created_at), "updated_at": rfc3339(row.updated_at)}


def _check_url(url: str, settings: Settings) -> None:
    try:
        check_url(url, settings)
    except Refused as exc:
        raise InvalidSubscription(f"url: {exc}", errors={"url": [str(exc)]}) from None


def find(subscription_id: int) -> WebhookSubscription:
    row = WebhookSubscription.get_or_none(WebhookSubscription.id == subscription_id)
    if row is None:
        raise SubscriptionNotFound(f"webhook {subscription_id} does not exist")
    return row


def create(spec: dict, *, settings: Settings, now: dt.datetime | None = None) -> dict:
    """A new subscription; the answer carries its secret, which is never shown again.

    Receives every matching event whose transaction commits after this one. Raises
    InvalidSubscription for a URL the transport would refuse outright (scheme, host).
    """
    _check_url(spec["url"], settings)
    now = now or utcnow()
    secret = secrets.new_secret()
    require_transaction("subscriptions.create")
    lock_subscriptions()
    row = WebhookSubscription.create(
        url=spec["url"], events=spec["events"], models=spec.get("models"),
        stages=spec.get("stages"),
        description=spec.get("description", ""), active=spec.get("active", True),
        secret=secrets.encrypt(secret, settings.fernet_key), created_at=now, updated_at=now)
    return {**view(row), "secret": secret}


def list_all() -> list[dict]:
    return [view(row) for row in WebhookSubscription.select().order_by(WebhookSubscription.id)]


def get(subscription_id: int) -> dict:
    """Raises SubscriptionNotFound."""
    return view(find(subscription_id))


def update(subscription_id: int, changes: dict, *, settings: Settings,
           now: dt.datetime | None = None) -> dict:
    """Change url, events, models, stages, description or active; re-activating clears the record of
    why it was disabled. Raises SubscriptionNotFound, InvalidSubscription."""
    if "url" in changes:
        _check_url(changes["url"], settings)
    now = now or utcnow()
    require_transaction("subscriptions.update")
    lock_subscriptions()
    row = find(subscription_id)
    for key, value in changes.items():
        setattr(row, key, value)
    if changes.get("active"):
        row.disabled_reason = row.disabled_at = row.failing_since = None
    row.updated_at = now
    row.save()
    return view(row)


def delete(subscription_id: int) -> None:
    """Remove the subscription and its undelivered outbox rows; later events are not sent.
    Raises SubscriptionNotFound."""
    require_transaction("subscriptions.delete")
    lock_subscriptions()
    find(subscription_id).delete_instance()


def rotate_secret(subscription_id: int, *, settings: Settings,
                  now: dt.datetime | None = None) -> dict:
    """A new secret (shown once); the old one keeps signing, next to it, for the overlap."""
    now = now or utcnow()
    secret = secrets.new_secret()
    require_transaction("subscriptions.rotate_secret")
    row = find(subscription_id)
    row.previous_secret = row.secret
    row.previous_until = now + dt.timedelta(seconds=settings.secret_overlap_s)
    row.secret = secrets.encrypt(secret, settings.fernet_key)
    row.updated_at = now
    row.save()
    return {**view(row), "secret": secret}


def send_test(subscription_id: int, *, now: dt.datetime | None = None) -> dict:
    """Queue a `webhook.test` delivery to this subscription alone; returns the delivery id."""
    now = now or utcnow()
    event_id = str(uuid.uuid4())
    body = json.dumps({"type": "webhook.test", "timestamp": rfc3339(now),
                       "data": {"id": event_id, "subscription_id": subscription_id}},
                      separators=(",", ":"))
    require_transaction("subscriptions.send_test")
    row = find(subscription_id)
    delivery = Delivery.create(subscription=row, event_id=event_id, event_seq=0,
                               event_type="webhook.test", model_name="", body=body,
                               next_attempt_at=now, created_at=now)
    announce()
    return {"delivery_id": delivery.id, "event_id": event_id}
