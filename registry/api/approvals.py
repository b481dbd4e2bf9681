"""Routes for promotion requests and their approvals."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate

from registry.api.blueprint import Blueprint
from registry.api.context import caller, current_subject
from registry.api.criteria import EvaluationSchema
from registry.api.schemas import MAX_INT, TIME, PageArgs, Strict, _text, held_stage
from registry.domain.approvals import STATUSES
from registry.services import approvals as approval_service

REQUEST = "<int(min=1, max=2147483647):request_id>"
blp = Blueprint("approvals", __name__, url_prefix="/api/v1",
                description="Promotion requests and approvals (four eyes)")


class RequestCreateSchema(Strict):
    version = fields.Integer(strict=True, required=True, validate=validate.Range(1, MAX_INT))
    stage = held_stage(load_default="production")
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CommentSchema(Strict):
    comment = _text(2000, allow_none=True)


class RejectSchema(Strict):
    comment = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ApprovalSchema(ma.Schema):
    subject = fields.String()
    actor = fields.String()
    comment = fields.String(allow_none=True)
    at = fields.String(metadata=TIME)


class RequestSchema(ma.Schema):
    id = fields.Integer()
    model = fields.String()
    version = fields.Integer()
    stage = fields.String()
    status = fields.String(metadata={"description": " | ".join(STATUSES)})
    requested_by = fields.String()
    requester_subject = fields.String()
    reason = fields.String()
    evaluation = fields.Nested(EvaluationSchema)
    required = fields.Integer()
    approvals = fields.List(fields.Nested(ApprovalSchema))
    expected_current_version = fields.Integer(allow_none=True)
    created_at = fields.String(metadata=TIME)
    expires_at = fields.String(metadata=TIME)
    decided_at = fields.String(allow_none=True, metadata=TIME)
    decided_by = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)


class RequestArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(STATUSES))


class RequestPageSchema(ma.Schema):
    items = fields.List(fields.Nested(RequestSchema))
    next_cursor = fields.String(allow_none=True)


def _who() -> dict:
    facts = caller()
    return {"actor": facts["actor"], "subject": current_subject()}


@blp.route("/models/<string:model>/promotion-requests", methods=["POST"])
@blp.arguments(RequestCreateSchema)
@blp.response(201, RequestSchema)
def create_request(body, model):
    """Ask for a promotion into a stage that needs approvals; 422 with the evaluation when the
    version does not meet the stage's criteria."""
    return approval_service.request_promotion(
        model, body["version"], stage=body["stage"], reason=body["reason"],
        ttl_hours=current_app.config["MODELYARD"]["approvals"]["ttl_hours"], **_who())


@blp.route("/models/<string:model>/promotion-requests", methods=["GET"])
@blp.arguments(RequestArgs, location="query")
@blp.response(200, RequestPageSchema)
def list_model_requests(args, model):
    """A model's requests, newest first."""
    return approval_service.list_requests(model, status=args.get("status"), limit=args["limit"],
                                          cursor=args.get("cursor")).as_dict()


@blp.route("/promotion-requests", methods=["GET"])
@blp.arguments(RequestArgs, location="query")
@blp.response(200, RequestPageSchema)
def list_requests(args):
    """Every model's requests, newest first (e.g. `?status=open`: what awaits approval)."""
    return approval_service.list_requests(status=args.get("status"), limit=args["limit"],
                                          cursor=args.get("cursor")).as_dict()


@blp.route(f"/promotion-requests/{REQUEST}", methods=["GET"])
@blp.response(200, RequestSchema)
def get_request(request_id):
    return approval_service.get_request(request_id)


@blp.route(f"/promotion-requests/{REQUEST}/approve", methods=["POST"])
@blp.arguments(CommentSchema)
@blp.response(200, RequestSchema)
def approve(body, request_id):
    """Approve (not your own request: 403 self-approval); the approval that reaches `required`
    promotes, or makes the request `stale` when the stage moved since it was made."""
    return approval_service.approve(request_id, comment=body.get("comment"), **_who())


@blp.route(f"/promotion-requests/{REQUEST}/reject", methods=["POST"])
@blp.arguments(RejectSchema)
@blp.response(200, RequestSchema)
def reject(body, request_id):
    return approval_service.reject(request_id, comment=body["comment"], **_who())


@blp.route(f"/promotion-requests/{REQUEST}/cancel", methods=["POST"])
@blp.response(200, RequestSchema)
def cancel(request_id):
    """Withdraw a request (its requester, or an admin)."""
    return approval_service.cancel(request_id, is_admin=caller()["is_admin"], **_who())
