"""Webhook subscriptions, the delivery outbox and the attempt log."""
from peewee import *


def up(migrator, db):
    class WebhookSubscription(Model):
        url = TextField()
        events = TextField()
        models = TextField(null=True)
        description = TextField(default='')
        active = BooleanField(default=True)
        secret = TextField()
        previous_secret = TextField(null=True)
        previous_until = BigIntegerField(null=True)
        failing_since = BigIntegerField(null=True)
        disabled_reason = TextField(null=True)
        disabled_at = BigIntegerField(null=True)
        created_at = BigIntegerField()
        updated_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'webhook_subscription'

    class Delivery(Model):
        subscription = ForeignKeyField(WebhookSubscription, on_delete='CASCADE')
        event_id = CharField(max_length=36)
        event_seq = IntegerField()
        event_type = CharField(max_length=64)
        model_name = CharField(max_length=128, default='')
        body = TextField()
        status = CharField(max_length=16, default='pending')
        attempts = IntegerField(default=0)
        retry_base = IntegerField(default=0)
        next_attempt_at = BigIntegerField()
        lease_until = BigIntegerField(null=True)
        last_result = TextField(null=True)
        created_at = BigIntegerField()
        delivered_at = BigIntegerField(null=True)
        class Meta:
            database = db
            table_name = 'delivery'
            indexes = ((('status', 'next_attempt_at'), False),
                       (('subscription', 'model_name', 'event_seq'), False))

    class DeliveryAttempt(Model):
        delivery = ForeignKeyField(Delivery, on_delete='CASCADE')
        number = IntegerField()
        at = BigIntegerField()
        status_code = IntegerField(null=True)
        error = TextField(null=True)
        latency_ms = IntegerField()
        response_excerpt = TextField(null=True)
        class Meta:
            database = db
            table_name = 'delivery_attempt'
            indexes = ((('delivery', 'number'), True),)
    db.create_tables([WebhookSubscription, Delivery, DeliveryAttempt])
