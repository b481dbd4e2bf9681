"""Webhook tables: subscriptions, the delivery outbox, and every attempt."""
from __future__ import annotations

from peewee import BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from webhooks.db import BaseModel, JSONTextField, UTCTimestampField, utcnow

class WebhookSubscription(BaseModel):
    url = TextField()
    events = JSONTextField()  # event types, or ["*"]
    models = JSONTextField(null=True)  # model names; null: every model
    stages = JSONTextField(null=True)  # only events about these stages; null: every event
    description = TextField(default="")
    active = BooleanField(default=True)
    secret = TextField()  # encrypted
    previous_secret = TextField(null=True)  # encrypted; also signs until previous_until
    previous_until = UTCTimestampField(null=True)
    failing_since = UTCTimestampField(null=True)  # first failure since the last success
    disabled_reason = TextField(null=True)
    disabled_at = UTCTimestampField(null=True)
    created_at = UTCTimestampField(default=utcnow)
    updated_at = UTCTimestampField(default=utcnow)


class Delivery(BaseModel):
    """One event for one subscription: the outbox row the dispatcher claims."""
    subscription = ForeignKeyField(WebhookSubscription, on_delete="CASCADE", backref="deliveries")
    event_id = CharField(max_length=36)  # the webhook-id header, stable across attempts
    event_seq = IntegerField()
    event_type = CharField(max_length=64)
    model_name = CharField(max_length=128, default="")  # ordering key; "" for no model
    body = TextField()  # the exact bytes sent on every attempt
    status = CharField(max_length=16, default="pending")
    attempts = IntegerField(default=0)
    retry_base = IntegerField(default=0)  # attempts made before the last redelivery
    next_attempt_at = UTCTimestampField(default=utcnow)
    lease_until = UTCTimestampField(null=True)
    last_result = TextField(null=True)
    created_at = UTCTimestampField(default=utcnow)
    delivered_at = UTCTimestampField(null=True)

    class Meta:
        indexes = ((("status", "next_attempt_at"), False),
                   (("subscription", "model_name", "event_seq"), False))


class DeliveryAttempt(BaseModel):
    delivery = ForeignKeyField(Delivery, on_delete="CASCADE", backref="attempt_rows")
    number = IntegerField()
    at = UTCTimestampField(default=utcnow)
    status_code = IntegerField(null=True)
    error = TextField(null=True)
    latency_ms = IntegerField()
    response_excerpt = TextField(null=True)  # first 1 KiB of the body

    class Meta:
        indexes = ((("delivery", "number"), True),)


TABLES = [WebhookSubscription, Delivery, DeliveryAttempt]
