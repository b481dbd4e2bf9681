"""Routes for acceptance criteria and evaluations."""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields

from registry.api.blueprint import Blueprint
from registry.api.context import current_actor
from registry.api.schemas import TIME, PageArgs, Strict, held_stage
from registry.services import criteria as criteria_service
from registry.services import evaluations as evaluation_service

blp = Blueprint("criteria", __name__, url_prefix="/api/v1",
                description="Acceptance criteria and evaluations")
VERSION = "<int(min=1, max=2147483647):version>"


class CriteriaPutSchema(Strict):
    stages = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True,
                         metadata={"description": "stage -> list of rules; a stage left out "
                                                  "follows the config defaults"})


class CriteriaSchema(ma.Schema):
    model = fields.String()
    revision = fields.Integer(allow_none=True)
    stages = fields.Dict(keys=fields.String(), values=fields.List(fields.Dict()))
    inherited = fields.List(fields.String())
    updated_by = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True, metadata=TIME)


class CriteriaRevisionSchema(ma.Schema):
    revision = fields.Integer()
    stages = fields.Dict(keys=fields.String(), values=fields.List(fields.Dict()))
    updated_by = fields.String()
    updated_at = fields.String(metadata=TIME)


class CriteriaPageSchema(ma.Schema):
    items = fields.List(fields.Nested(CriteriaRevisionSchema))
    next_cursor = fields.String(allow_none=True)


class RuleResultSchema(ma.Schema):
    rule = fields.Dict()
    observed = fields.Raw(allow_none=True)
    expected = fields.Raw(allow_none=True)
    passed = fields.Boolean()
    message = fields.String()
    margin = fields.Float(allow_none=True, metadata={
        "description": "how far inside the bound the value is (negative: outside); null for "
                       "metadata rules and missing values"})


class EvaluationSchema(ma.Schema):
    id = fields.Integer(allow_none=True)
    model = fields.String()
    version = fields.Integer()
    stage = fields.String()
    passed = fields.Boolean()
    results = fields.List(fields.Nested(RuleResultSchema))
    baseline_version = fields.Integer(allow_none=True)
    criteria_revision = fields.Integer(allow_none=True)
    trigger = fields.String()
    actor = fields.String()
    evaluated_at = fields.String(metadata=TIME)


class EvaluateSchema(Strict):
    stage = held_stage(load_default="production")


class EvaluationArgs(PageArgs):
    stage = held_stage()


class EvaluationPageSchema(ma.Schema):
    items = fields.List(fields.Nested(EvaluationSchema))
    next_cursor = fields.String(allow_none=True)


@blp.route("/models/<string:model>/criteria")
class Criteria(MethodView):
    @blp.response(200, CriteriaSchema)
    def get(self, model):
        """The criteria in force per stage; `inherited` lists stages that follow the config."""
        return criteria_service.get_criteria(model)

    @blp.arguments(CriteriaPutSchema)
    @blp.response(200, CriteriaSchema)
    def put(self, body, model):
        """Replace the model's criteria (a new revision; earlier ones stay as history)."""
        return criteria_service.set_criteria(model, body["stages"], actor=current_actor())


@blp.route("/models/<string:model>/criteria/history", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, CriteriaPageSchema)
def criteria_history(args, model):
    """Every revision of the model's criteria, newest first."""
    return criteria_service.criteria_history(model, **args).as_dict()


@blp.route(f"/models/<string:model>/versions/{VERSION}/evaluate", methods=["POST"])
@blp.arguments(EvaluateSchema)
@blp.response(201, EvaluationSchema)
def evaluate(body, model, version):
    """Evaluate the version against a stage's criteria now; the result is stored."""
    return evaluation_service.evaluate_version(model, version, body["stage"], actor=current_actor())


@blp.route(f"/models/<string:model>/versions/{VERSION}/evaluations", methods=["GET"])
@blp.arguments(EvaluationArgs, location="query")
@blp.response(200, EvaluationPageSchema)
def evaluations(args, model, version):
    """The version's stored evaluations, newest first."""
    return evaluation_service.list_evaluations(model, version, **args).as_dict()
