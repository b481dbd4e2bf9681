"""Marshmallow schemas: what the HTTP edge accepts and answers. Unknown fields are rejected."""
from __future__ import annotations

import datetime as dt
import math

import marshmallow as ma
from marshmallow import fields, validate

from registry.domain.names import KEY_NAME, MODEL_NAME
from registry.domain.stages import EXIT_STAGES, STAGE_NAME, STAGES

MAX_INT = 2**31 - 1
TIME = {"format": "date-time"}
ON_DEGRADED = ("notify", "rollback")



def held_stage(**kwargs) -> fields.String:
    """A stage a version can hold: built in or declared (`none` and `archived` are labels)."""
    return fields.String(validate=[validate.Regexp(STAGE_NAME, error="not a stage name"),
                                   validate.NoneOf(EXIT_STAGES, error="not a stage a version "
                                                   "holds; use staging, production or a "
                                                   "declared stage")], **kwargs)

class StrictNumber(fields.Float):
    """A JSON number: no strings, no booleans, finite."""

    default_error_messages = {"invalid": "Not a finite number."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
                value) or abs(value) > 1e300:
            raise self.make_error("invalid")
        return float(value)


class Scalar(fields.Field):
    """A parameter value: string, finite number or boolean."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            if len(value) > 1000:
                raise ma.ValidationError("Longer than 1000 characters.")
            return value
        if isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value)
                                       and abs(value) <= 1e300):
            return value
        raise ma.ValidationError("Must be a string, a finite number or a boolean.")


EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.timezone.utc)
LATEST = dt.datetime(9999, 1, 1, tzinfo=dt.timezone.utc)


def instant(**kwargs) -> fields.AwareDateTime:
    """An RFC 3339 instant with an offset, between 1900 and 9999 (so it survives conversion to
    UTC and to integer microseconds)."""
    return fields.AwareDateTime(default_timezone=None, validate=validate.Range(
        EARLIEST, LATEST, error="must be between 1900 and 9999"), **kwargs)


def _key() -> fields.String:
    return fields.String(validate=validate.Regexp(KEY_NAME, error="Invalid key: letters, digits "
                                                  "and _ . : / -, at most 128 characters."))


def _text(limit: int, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(max=limit), **kwargs)


def _tags(allow_none: bool = False) -> fields.Dict:
    return fields.Dict(keys=_key(), values=_text(512, allow_none=allow_none),
                       validate=validate.Length(max=64))


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


# ---- models -------------------------------------------------------------------------------

class ModelCreateSchema(Strict):
    name = fields.String(required=True, validate=validate.Regexp(
        MODEL_NAME, error="Model names start with a letter or digit and use letters, digits, "
        "'.', '_' and '-', at most 128 characters."))
    description = _text(10_000, load_default="")
    tags = _tags()


class ModelPatchSchema(Strict):
    description = _text(10_000)
    tags = _tags(allow_none=True)
    production_requires_admin = fields.Boolean(metadata={
        "description": "every production move of this model needs the admin role (admin only)"})
    on_degraded = fields.String(validate=validate.OneOf(ON_DEGRADED), metadata={
        "description": "when a scheduled re-evaluation finds the production version failing: "
                       "`notify` (event production.degraded) or `rollback` (also roll back "
                       "automatically); admin only"})
    on_alert = fields.String(validate=validate.OneOf(ON_DEGRADED), metadata={
        "description": "what a firing alert about the model does: `notify` (event "
                       "alert.received) or `rollback` (also roll the stage back); admin only"})
    approvals = fields.Dict(keys=fields.String(validate=validate.Length(max=40)),
                            values=fields.Dict(), validate=validate.Length(max=100), metadata={
        "description": "{<stage>: {required: N}}: promotions into the stage need N approved "
                       "promotion requests (0 removes the rule); admin only"})


class VersionSummarySchema(ma.Schema):
    version = fields.Integer()
    status = fields.String()
    stage = fields.String()
    stage_since = fields.String(allow_none=True, metadata=TIME)
    since = fields.String(metadata={**TIME, "description": "when it took this stage"})
    created_at = fields.String(metadata=TIME)


class ModelSchema(ma.Schema):
    name = fields.String()
    description = fields.String()
    tags = fields.Dict(keys=fields.String(), values=fields.String())
    latest_version = fields.Integer(allow_none=True)
    production = fields.Nested(VersionSummarySchema, allow_none=True)
    staging = fields.Nested(VersionSummarySchema, allow_none=True)
    stages = fields.Dict(keys=fields.String(), values=fields.Nested(VersionSummarySchema),
                         metadata={"description": "every held stage -> its holder"})
    production_requires_admin = fields.Boolean()
    on_degraded = fields.String()
    approvals = fields.Dict(keys=fields.String(), values=fields.Dict())
    on_alert = fields.String()
    created_at = fields.String(metadata=TIME)
    updated_at = fields.String(metadata=TIME)


class PageArgs(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 1000))
    cursor = _text(2000)


class ModelListArgs(PageArgs):
    q = _text(128)
    tag = fields.List(fields.String(validate=validate.Regexp(
        r"^[^:]+:.*$", error="Use tag=key:value.")), load_default=list)
    stage = fields.String(validate=validate.Regexp(STAGE_NAME), metadata={
        "description": "models whose stage (built-in or declared) has a holder"})


class ModelPageSchema(ma.Schema):
    items = fields.List(fields.Nested(ModelSchema))
    next_cursor = fields.String(allow_none=True)


# ---- versions -----------------------------------------------------------------------------

class DatasetSchema(Strict):
    name = _text(256, required=True)
    version = _text(256, allow_none=True)
    digest = _text(256, allow_none=True)


class CodeSchema(Strict):
    repo = _text(2048, allow_none=True)
    commit = _text(256, allow_none=True)
    branch = _text(256, allow_none=True)


class EnvironmentSchema(Strict):
    python = _text(64, allow_none=True)
    requirements = fields.List(_text(512), validate=validate.Length(max=2000), allow_none=True)


class RunSchema(Strict):
    id = _text(256, allow_none=True)
    experiment = _text(256, allow_none=True)
    uri = _text(2048, allow_none=True)
    params = fields.Dict(keys=_key(), values=Scalar(), validate=validate.Length(max=1000))
    metrics = fields.Dict(keys=_key(), values=StrictNumber(), validate=validate.Length(max=1000))
    dataset = fields.Nested(DatasetSchema, allow_none=True)
    code = fields.Nested(CodeSchema, allow_none=True)
    environment = fields.Nested(EnvironmentSchema, allow_none=True)
    started_at = instant(allow_none=True)
    ended_at = instant(allow_none=True)


class VersionCreateSchema(Strict):
    description = _text(10_000, load_default="")
    tags = _tags()
    source_uri = _text(2048, allow_none=True)
    parent_version = fields.Integer(strict=True, allow_none=True,
                                    validate=validate.Range(1, MAX_INT))
    run = fields.Nested(RunSchema, load_default=dict)
    finalize = fields.Boolean(metadata={
        "description": "create it ready (and evaluated) at once: for a version whose artifacts "
                       "live at `source_uri` and need no uploads"})


class VersionPatchSchema(Strict):
    description = _text(10_000)
    tags = _tags(allow_none=True)


class DatasetOut(ma.Schema):
    name = fields.String(allow_none=True)
    version = fields.String(allow_none=True)
    digest = fields.String(allow_none=True)


class CodeOut(ma.Schema):
    repo = fields.String(allow_none=True)
    commit = fields.String(allow_none=True)
    branch = fields.String(allow_none=True)


class EnvironmentOut(ma.Schema):
    python = fields.String(allow_none=True)
    requirements = fields.List(fields.String(), allow_none=True)


class RunOut(ma.Schema):
    id = fields.String(allow_none=True)
    experiment = fields.String(allow_none=True)
    uri = fields.String(allow_none=True)
    params = fields.Dict(keys=fields.String(), values=fields.Raw())
    metrics = fields.Dict(keys=fields.String(), values=fields.Float())
    dataset = fields.Nested(DatasetOut)
    code = fields.Nested(CodeOut)
    environment = fields.Nested(EnvironmentOut)
    started_at = fields.String(allow_none=True, metadata=TIME)
    ended_at = fields.String(allow_none=True, metadata=TIME)


class VersionSchema(ma.Schema):
    model = fields.String()
    version = fields.Integer()
    description = fields.String()
    tags = fields.Dict(keys=fields.String(), values=fields.String())
    status = fields.String()
    stage = fields.String(metadata={"description": "the built-in label: none, staging, "
                                    "production or archived"})
    stages = fields.List(fields.String(), metadata={
        "description": "every stage the version holds now, declared ones included"})
    stage_since = fields.String(allow_none=True, metadata=TIME)
    rolled_back = fields.Boolean()
    source_uri = fields.String(allow_none=True)
    parent_version = fields.Integer(allow_none=True)
    run = fields.Nested(RunOut)
    metrics = fields.Dict(keys=fields.String(), values=fields.Float())
    files = fields.List(fields.Dict(), metadata={
        "description": "the manifest: [{path, size, sha256}] in path order"})
    evaluations = fields.Dict(keys=fields.String(), values=fields.Dict(), metadata={
        "description": "stage -> the newest stored evaluation for it"})
    created_at = fields.String(metadata=TIME)
    updated_at = fields.String(metadata=TIME)


class VersionSearchArgs(PageArgs):
    filter = _text(4000)
    order_by = _text(300)
    stage = fields.String(validate=validate.OneOf(STAGES))
    status = fields.String(validate=validate.OneOf(("pending", "ready")))


class VersionPageSchema(ma.Schema):
    items = fields.List(fields.Nested(VersionSchema))
    next_cursor = fields.String(allow_none=True)


class StageChangeSchema(Strict):
    stage = fields.String(required=True, validate=validate.OneOf(EXIT_STAGES))
    reason = _text(2000, allow_none=True)


# ---- metrics ------------------------------------------------------------------------------

class MetricsRecordSchema(Strict):
    metrics = fields.Dict(keys=_key(), values=StrictNumber(), required=True,
                          validate=validate.Length(min=1, max=1000))
    source = fields.String(load_default="evaluation",
                           validate=validate.OneOf(("training", "evaluation", "live")))
    recorded_at = instant(allow_none=True)


class MetricsRecordedSchema(ma.Schema):
    model = fields.String()
    version = fields.Integer()
    source = fields.String()
    metrics = fields.Dict(keys=fields.String(), values=fields.Float())
    recorded_at = fields.String(metadata=TIME)


class MetricHistoryArgs(PageArgs):
    key = _text(128)
    source = fields.String(validate=validate.OneOf(("training", "evaluation", "live")))


class MetricPointSchema(ma.Schema):
    key = fields.String()
    value = fields.Float()
    source = fields.String()
    recorded_at = fields.String(metadata=TIME)


class MetricPageSchema(ma.Schema):
    items = fields.List(fields.Nested(MetricPointSchema))
    next_cursor = fields.String(allow_none=True)


# ---- events -------------------------------------------------------------------------------

class EventArgs(Strict):
    after = fields.Integer(load_default=0, validate=validate.Range(0, 2**62))
    model = _text(128)
    type = _text(64)
    stage = held_stage(metadata={
        "description": "only events about this stage (promotions, rollbacks, degradations)"})
    wait = fields.Float(load_default=0, allow_nan=False, validate=validate.Range(0, 600))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class EventSchema(ma.Schema):
    id = fields.String()
    seq = fields.Integer()
    type = fields.String()
    model = fields.String(allow_none=True)
    version = fields.Integer(allow_none=True)
    actor = fields.String()
    at = fields.String(metadata=TIME)
    data = fields.Dict()


class EventPageSchema(ma.Schema):
    items = fields.List(fields.Nested(EventSchema))
    last_seq = fields.Integer()


# ---- files --------------------------------------------------------------------------------

class FileSchema(ma.Schema):
    path = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
