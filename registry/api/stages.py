"""Routes for a model's stages: declare and remove them, promote, rollback, the stage holder (the
deployers' hot path), history."""
from __future__ import annotations

import marshmallow as ma
from flask import Response, current_app, json, request
from marshmallow import fields, validate

from registry.api.blueprint import Blueprint
from registry.api.context import caller, current_actor
from registry.api.criteria import EvaluationSchema
from registry.api.schemas import (MAX_INT, ON_DEGRADED, TIME, PageArgs, Strict, _text,
                                  held_stage, instant)
from registry.domain.names import IMPORT_SOURCE
from registry.services import holders as holder_service
from registry.services import stage_catalog
from registry.services import stages as stage_service

blp = Blueprint("stages", __name__, url_prefix="/api/v1/models/<string:model>",
                description="Promotion, rollback, stage holders and history")


def _version(**kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(1, MAX_INT), **kwargs)


class StageDeclarationSchema(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "^[a-z][a-z0-9-]{0,39}$; none, archived, staging, production reserved"})
    description = _text(2000, load_default="")
    requires_admin = fields.Boolean(load_default=False, metadata={
        "description": "every move of this stage needs the admin role"})
    on_degraded = fields.String(validate=validate.OneOf(ON_DEGRADED), allow_none=True, metadata={
        "description": "what scheduled re-evaluation does when the holder degrades; null: the "
                       "model's on_degraded"})


class HolderSummarySchema(ma.Schema):
    version = fields.Integer()
    since = fields.String(metadata=TIME)


class StageOutSchema(ma.Schema):
    name = fields.String()
    builtin = fields.Boolean()
    description = fields.String()
    requires_admin = fields.Boolean()
    on_degraded = fields.String(allow_none=True)
    created_at = fields.String(metadata=TIME)
    holder = fields.Nested(HolderSummarySchema, allow_none=True)


class StageListSchema(ma.Schema):
    model = fields.String()
    items = fields.List(fields.Nested(StageOutSchema))


class MoveSchema(Strict):
    stage = held_stage(load_default="production")
    reason = _text(2000, allow_none=True)
    dry_run = fields.Boolean(load_default=False)
    expected_current_version = _version(allow_none=True, metadata={
        "description": "compare-and-set: 412 unless this version (null: none) holds the stage"})


class PromoteSchema(MoveSchema):
    version = _version(required=True)
    force = fields.Boolean(load_default=False)
    imported_from = fields.String(validate=validate.Regexp(IMPORT_SOURCE), metadata={
        "description": "a move brought over from another registry (e.g. `mlflow`): recorded "
                       "with actor `import:<source>`; needs `force`, a reason and the admin role"})


class RollbackSchema(MoveSchema):
    to_version = _version(allow_none=True)


class MoveResultSchema(ma.Schema):
    """What a promotion and a rollback both answer: the stage's new holder."""
    model = fields.String()
    stage = fields.String()
    version = fields.Integer()
    reason = fields.String(allow_none=True)
    event_seq = fields.Integer(allow_none=True)
    dry_run = fields.Boolean()


class PromotionSchema(MoveResultSchema):
    previous_version = fields.Integer(allow_none=True)
    evaluation = fields.Nested(EvaluationSchema)
    forced = fields.Boolean()


class RollbackResultSchema(MoveResultSchema):
    rolled_back_version = fields.Integer()
    skipped = fields.List(fields.String(), metadata={
        "description": "earlier holders passed over, newest first, each with why"})


class HolderFileSchema(ma.Schema):
    path = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    url = fields.String(metadata={"description": "download path on this server"})


class StageHolderSchema(ma.Schema):
    model = fields.String()
    stage = fields.String()
    version = fields.Integer()
    since = fields.String(metadata=TIME)
    revision = fields.Integer()
    files = fields.List(fields.Nested(HolderFileSchema))


class HistoryArgs(PageArgs):
    stage = held_stage()
    at = instant(metadata={
        "description": "answer which version held `stage` (default production) at this instant"})


class MoveOutSchema(ma.Schema):
    seq = fields.Integer()
    at = fields.String(metadata=TIME)
    stage = fields.String()
    from_version = fields.Integer(allow_none=True)
    to_version = fields.Integer(allow_none=True)
    action = fields.String()
    actor = fields.String()
    reason = fields.String(allow_none=True)
    forced = fields.Boolean()
    evaluation_id = fields.Integer(allow_none=True)
    converged_at = fields.String(allow_none=True, metadata={
        **TIME, "description": "when every deployment target following the stage first "
                               "reported serving this move's version"})
    converged_s = fields.Float(allow_none=True, metadata={"description": "seconds from the move"})


class HistorySchema(ma.Schema):
    items = fields.List(fields.Nested(MoveOutSchema), metadata={
        "description": "the moves, newest first; with `at`, the one move in force then"})
    next_cursor = fields.String(allow_none=True)
    model = fields.String(metadata={"description": "this and the rest: only with `at`"})
    stage = fields.String()
    at = fields.String(metadata=TIME)
    version = fields.Integer(allow_none=True)
    since = fields.String(allow_none=True, metadata=TIME)


def _precondition(body: dict) -> stage_service.Precondition:
    if_match = None
    if request.if_match:
        if_match = ["*"] if request.if_match.star_tag else [
            f'"{tag}"' for tag in request.if_match.as_set()]
    return stage_service.Precondition(
        expect_given="expected_current_version" in body,
        expected=body.get("expected_current_version"), if_match=if_match)


def _answer(result: tuple[dict, bool]):
    answer, replayed = result
    return answer, 200, {"Idempotent-Replayed": "true"} if replayed else {}


@blp.route("/promote", methods=["POST"])
@blp.arguments(PromoteSchema)
@blp.response(200, PromotionSchema)
def promote(body, model):
    """Promote a ready version if it meets the stage's criteria (422 with the evaluation if not).
    `force` (with a reason) overrides them and needs the admin role."""
    return _answer(stage_service.promote(
        model, body["version"], stage=body["stage"], reason=body.get("reason"),
        force=body["force"], dry_run=body["dry_run"], precondition=_precondition(body),
        imported_from=body.get("imported_from"), **caller(idempotent=True)))


@blp.route("/rollback", methods=["POST"])
@blp.arguments(RollbackSchema)
@blp.response(200, RollbackResultSchema)
def rollback(body, model):
    """Return the stage to the previous good holder (or `to_version`) in one call."""
    return _answer(stage_service.rollback(
        model, stage=body["stage"], store=current_app.extensions["modelyard_store"],
        to_version=body.get("to_version"), reason=body.get("reason"), dry_run=body["dry_run"],
        precondition=_precondition(body), **caller(idempotent=True)))


def _holder(model: str, stage: str) -> Response:
    view = holder_service.stage_view(model, stage)
    etag = view.pop("etag")
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.if_none_match and (request.if_none_match.star_tag
                                  or etag.strip('"') in request.if_none_match):
        return Response(status=304, headers=headers)
    return Response(json.dumps(view), 200, headers=headers, mimetype="application/json")


@blp.route("/stages", methods=["GET"])
@blp.response(200, StageListSchema)
def list_stages(model):
    """The model's stages, built-ins first, with their settings and holders."""
    return stage_catalog.list_stages(model)


@blp.route("/stages", methods=["POST"])
@blp.arguments(StageDeclarationSchema)
@blp.response(201, StageOutSchema)
def declare_stage(body, model):
    """Declare a stage (admin): promoted, rolled back and looked up like production."""
    return stage_catalog.declare_stage(model, body.pop("name"), actor=current_actor(), **body)


@blp.route("/stages/<string:stage>", methods=["DELETE"])
@blp.response(204)
def remove_stage(model, stage):
    """Remove a declared stage (admin); 409 while a version holds it, and for the built-ins."""
    stage_catalog.remove_stage(model, stage, actor=current_actor())


@blp.route("/stages/<string:stage>", methods=["GET"])
@blp.response(200, StageHolderSchema, headers={"ETag": {"schema": {"type": "string"}}})
@blp.alt_response(304, description="Not Modified: the holder still has this ETag")
def stage_holder(model, stage):
    """The stage's holder with its files; `If-None-Match` with its ETag gives 304."""
    return _holder(model, stage)


@blp.route("/production", methods=["GET"])
@blp.response(200, StageHolderSchema, headers={"ETag": {"schema": {"type": "string"}}})
@blp.alt_response(304, description="Not Modified: the holder still has this ETag")
def production(model):
    """The production holder (alias of /stages/production)."""
    return _holder(model, "production")


@blp.route("/history", methods=["GET"])
@blp.arguments(HistoryArgs, location="query")
@blp.response(200, HistorySchema)
def history(args, model):
    """Every stage move, newest first; with `at`, the version that held `stage` then."""
    if "at" in args:
        return holder_service.holder_at(model, args.get("stage", "production"), args["at"])
    return holder_service.stage_history(model, stage=args.get("stage"), limit=args["limit"],
                                       cursor=args.get("cursor")).as_dict()
