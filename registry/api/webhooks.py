"""Routes for webhook subscriptions and their delivery log."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from marshmallow import fields, validate

from registry.api.blueprint import Blueprint
from registry.api.context import current_actor
from registry.api.schemas import TIME, PageArgs, Strict, _text, held_stage
from registry.domain.names import MODEL_NAME
from registry.services import subscriptions as admin

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1", description="Webhooks")
EVENT_TYPE = r"^(\*|[a-z_]+\.[a-z_.]+)$"


def _settings():
    return current_app.extensions["modelyard_webhooks"]


class SubscriptionFields(Strict):
    url = fields.String(validate=validate.Length(min=1, max=2048))
    events = fields.List(fields.String(validate=validate.Regexp(
        EVENT_TYPE, error="an event type such as model.promoted, or *")),
        validate=validate.Length(min=1, max=100))
    models = fields.List(fields.String(validate=validate.Regexp(MODEL_NAME)), allow_none=True,
                         validate=validate.Length(min=1, max=1000))
    stages = fields.List(held_stage(), allow_none=True,
                         validate=validate.Length(min=1, max=100), metadata={
                             "description": "only events about these stages (promotions, "
                                            "rollbacks, degradations...); null: every event"})
    description = _text(2000)
    active = fields.Boolean()


class SubscriptionCreateSchema(SubscriptionFields):
    url = fields.String(required=True, validate=validate.Length(min=1, max=2048))
    events = fields.List(fields.String(validate=validate.Regexp(
        EVENT_TYPE, error="an event type such as model.promoted, or *")), required=True,
        validate=validate.Length(min=1, max=100))


class SubscriptionSchema(ma.Schema):
    id = fields.Integer()
    url = fields.String()
    events = fields.List(fields.String())
    models = fields.List(fields.String(), allow_none=True)
    stages = fields.List(fields.String(), allow_none=True)
    description = fields.String()
    active = fields.Boolean()
    disabled_reason = fields.String(allow_none=True)
    disabled_at = fields.String(allow_none=True, metadata=TIME)
    failing_since = fields.String(allow_none=True, metadata=TIME)
    previous_secret_until = fields.String(allow_none=True, metadata=TIME)
    created_at = fields.String(metadata=TIME)
    updated_at = fields.String(metadata=TIME)


class SubscriptionWithSecretSchema(SubscriptionSchema):
    secret = fields.String(metadata={"description": "whsec_...; shown only in this answer"})


class AttemptSchema(ma.Schema):
    number = fields.Integer()
    at = fields.String(metadata=TIME)
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    latency_ms = fields.Integer()
    response_excerpt = fields.String(allow_none=True)


class DeliverySchema(ma.Schema):
    id = fields.Integer()
    subscription_id = fields.Integer()
    event_id = fields.String()
    event_seq = fields.Integer()
    event_type = fields.String()
    model = fields.String(allow_none=True)
    status = fields.String()
    attempt_count = fields.Integer()
    next_attempt_at = fields.String(allow_none=True, metadata=TIME)
    delivered_at = fields.String(allow_none=True, metadata=TIME)
    last_result = fields.String(allow_none=True)
    created_at = fields.String(metadata=TIME)
    attempts = fields.List(fields.Nested(AttemptSchema))


class DeliveryArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(("pending", "delivering", "delivered", "failed")))


class DeliveryPageSchema(ma.Schema):
    items = fields.List(fields.Nested(DeliverySchema))
    next_cursor = fields.String(allow_none=True)


class TestQueuedSchema(ma.Schema):
    delivery_id = fields.Integer()
    event_id = fields.String()


WEBHOOK = "/webhooks/<int(min=1, max=2147483647):webhook_id>"


@blp.route("/webhooks")
class Webhooks(MethodView):
    @blp.response(200, SubscriptionSchema(many=True))
    def get(self):
        """Every subscription."""
        return admin.list_subscriptions()

    @blp.arguments(SubscriptionCreateSchema)
    @blp.response(201, SubscriptionWithSecretSchema)
    def post(self, body):
        """Subscribe a URL to event types (or `*`), optionally for some models only."""
        return admin.create_subscription(body, actor=current_actor(), settings=_settings())


@blp.route(WEBHOOK)
class Webhook(MethodView):
    @blp.response(200, SubscriptionSchema)
    def get(self, webhook_id):
        """One subscription (never its secret)."""
        return admin.get_subscription(webhook_id)

    @blp.arguments(SubscriptionFields)
    @blp.response(200, SubscriptionSchema)
    def patch(self, body, webhook_id):
        """Change it; `active: true` re-enables a disabled subscription."""
        return admin.update_subscription(webhook_id, body, actor=current_actor(),
                                         settings=_settings())

    @blp.response(204)
    def delete(self, webhook_id):
        """Remove it with its undelivered deliveries."""
        admin.delete_subscription(webhook_id, actor=current_actor())


@blp.route(f"{WEBHOOK}/rotate-secret", methods=["POST"])
@blp.response(200, SubscriptionWithSecretSchema)
def rotate_secret(webhook_id):
    """A new secret, shown once; the old one also signs for `webhook.secret_overlap_s`."""
    return admin.rotate_secret(webhook_id, actor=current_actor(), settings=_settings())


@blp.route(f"{WEBHOOK}/test", methods=["POST"])
@blp.response(202, TestQueuedSchema)
def send_test(webhook_id):
    """Queue a `webhook.test` delivery to this subscription."""
    return admin.send_test(webhook_id, actor=current_actor())


@blp.route(f"{WEBHOOK}/deliveries", methods=["GET"])
@blp.arguments(DeliveryArgs, location="query")
@blp.response(200, DeliveryPageSchema)
def list_deliveries(args, webhook_id):
    """The delivery log, newest first, each with every attempt."""
    return admin.list_deliveries(webhook_id, **args)


@blp.route("/deliveries/<int(min=1, max=2147483647):delivery_id>/redeliver", methods=["POST"])
@blp.response(202, DeliverySchema)
def redeliver(delivery_id):
    """Send a delivery again (same webhook-id and body)."""
    return admin.redeliver(delivery_id, actor=current_actor())
