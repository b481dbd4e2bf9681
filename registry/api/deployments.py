"""Routes for what actually serves (deployment targets) and for alerts that roll back."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate

from registry.api.blueprint import Blueprint
from registry.api.context import current_actor
from registry.api.schemas import MAX_INT, TIME, Strict, _text, held_stage
from registry.services import alerts as alert_service
from registry.services import deployments as deployment_service

blp = Blueprint("deployments", __name__, url_prefix="/api/v1",
                description="Deployment targets and alerts")
TARGET = "/models/<string:model>/deployments/<string:target>"


class DeploymentReportSchema(Strict):
    stage = held_stage(load_default="production")
    version = fields.Integer(strict=True, allow_none=True, required=True,
                             validate=validate.Range(1, MAX_INT))
    state = fields.String(required=True, validate=validate.OneOf(deployment_service.STATES))
    detail = _text(4000, allow_none=True)


class DeploymentTargetSchema(ma.Schema):
    model = fields.String()
    target = fields.String()
    stage = fields.String()
    desired_version = fields.Integer(allow_none=True, metadata={
        "description": "the stage's holder now"})
    version = fields.Integer(allow_none=True)
    state = fields.String()
    detail = fields.String(allow_none=True)
    since = fields.String(metadata=TIME)
    last_seen = fields.String(metadata=TIME)
    reported_by = fields.String()
    converged = fields.Boolean(metadata={"description": "serving the desired version"})


class TargetListSchema(ma.Schema):
    items = fields.List(fields.Nested(DeploymentTargetSchema))


class TargetArgs(Strict):
    converged = fields.Boolean()


@blp.route(TARGET, methods=["PUT"])
@blp.arguments(DeploymentReportSchema)
@blp.response(200, DeploymentTargetSchema)
def report(body, model, target):
    """What the target serves now; the same version and state again is a heartbeat."""
    return deployment_service.report(model, target, actor=current_actor(), **body)


@blp.route(TARGET, methods=["DELETE"])
@blp.response(204)
def forget(model, target):
    """Stop tracking a target."""
    deployment_service.forget(model, target)


@blp.route("/models/<string:model>/deployments", methods=["GET"])
@blp.response(200, TargetListSchema)
def model_targets(model):
    return {"items": deployment_service.list_targets(model)}


@blp.route("/deployments", methods=["GET"])
@blp.arguments(TargetArgs, location="query")
@blp.response(200, TargetListSchema)
def all_targets(args):
    """Every target of every model; `?converged=false`: those not serving what they should."""
    return {"items": deployment_service.list_targets(converged=args.get("converged"))}


class AlertSchema(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=256))
    fingerprint = fields.String(validate=validate.Length(min=1, max=256))
    status = fields.String(required=True, validate=validate.OneOf(("firing", "resolved")))
    stage = held_stage(load_default="production")
    summary = _text(2000, allow_none=True)
    starts_at = fields.String(load_default="", validate=validate.Length(max=64))


class AlertmanagerAlert(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE  # Alertmanager sends more than we read
    status = fields.String(required=True, validate=validate.OneOf(("firing", "resolved")))
    labels = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    annotations = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    startsAt = fields.String(load_default="", validate=validate.Length(max=64))
    fingerprint = fields.String(load_default=None, validate=validate.Length(max=256))


class AlertmanagerSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE
    alerts = fields.List(fields.Nested(AlertmanagerAlert), required=True,
                         validate=validate.Length(max=1000))


class AlertOutcomeSchema(ma.Schema):
    model = fields.String()
    alert = fields.String()
    duplicate = fields.Boolean(metadata={"description": "handled before: nothing changed"})
    action = fields.String(allow_none=True)
    rollback = fields.Dict(metadata={"description": "from_version and to_version, or error"})
    ignored = fields.String(metadata={"description": "why an alert was not handled"})


class AlertmanagerOutcomeSchema(ma.Schema):
    results = fields.List(fields.Nested(AlertOutcomeSchema))


def _store():
    return current_app.extensions["modelyard_store"]


@blp.route("/models/<string:model>/alerts", methods=["POST"])
@blp.arguments(AlertSchema)
@blp.response(200, AlertOutcomeSchema)
def model_alert(body, model):
    """An alert from any monitoring system about `model` in `stage`."""
    return alert_service.receive_alert(model, store=_store(), **body)


@blp.route("/alerts/alertmanager", methods=["POST"])
@blp.arguments(AlertmanagerSchema)
@blp.response(200, AlertmanagerOutcomeSchema)
def alertmanager(body):
    """Alertmanager's webhook (payload version 4): each alert labelled `model` (and `stage`,
    default production) is handled as by /models/{model}/alerts; others are listed as
    ignored. Always 200 so Alertmanager does not resend what was handled."""
    return {"results": alert_service.receive_alertmanager(body["alerts"], store=_store())}

