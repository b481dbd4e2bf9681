"""Peewee tables. Invariants that matter are constraints here, not Python checks."""
from __future__ import annotations

from peewee import (SQL, BigIntegerField, BooleanField, CharField, DoubleField, ForeignKeyField,
                    IntegerField, TextField)

from webhooks.db import BaseModel, JSONTextField, UTCTimestampField, utcnow  # noqa: F401
from webhooks.models import TABLES as WEBHOOK_TABLES

STATUSES = ("pending", "ready")


class RegisteredModel(BaseModel):
    name = CharField(max_length=128, unique=True)
    description = TextField(default="")
    last_version = IntegerField(default=0)  # version counter: numbers are never reused
    production_requires_admin = BooleanField(default=False)
    on_degraded = CharField(max_length=16, default="notify")  # notify | rollback
    approvals = JSONTextField(null=True)  # stage -> {"required": N}; null or absent: none
    on_alert = CharField(max_length=16, null=True)  # notify (null) | rollback
    created_at = UTCTimestampField(default=utcnow)
    updated_at = UTCTimestampField(default=utcnow)


class ModelTag(BaseModel):
    model = ForeignKeyField(RegisteredModel, on_delete="CASCADE", backref="tag_rows")
    key = CharField(max_length=128)
    value = CharField(max_length=512)

    class Meta:
        indexes = ((("model", "key"), True), (("key", "value"), False))


class ModelVersion(BaseModel):
    model = ForeignKeyField(RegisteredModel, on_delete="CASCADE", backref="versions")
    version = IntegerField()
    description = TextField(default="")
    status = CharField(max_length=16, default="pending")
    stage = CharField(max_length=16, default="none")
    stage_since = UTCTimestampField(null=True)
    rolled_back = BooleanField(default=False)
    source_uri = TextField(null=True)
    parent_version = IntegerField(null=True)
    run_id = CharField(max_length=256, null=True, index=True)
    run_experiment = CharField(max_length=256, null=True, index=True)
    run_uri = TextField(null=True)
    run_started_at = UTCTimestampField(null=True)
    run_ended_at = UTCTimestampField(null=True)
    dataset_name = CharField(max_length=256, null=True)
    dataset_version = CharField(max_length=256, null=True)
    dataset_digest = CharField(max_length=256, null=True)
    code_repo = TextField(null=True)
    code_commit = CharField(max_length=256, null=True)
    code_branch = CharField(max_length=256, null=True)
    env_python = CharField(max_length=64, null=True)
    env_requirements = JSONTextField(null=True)
    created_at = UTCTimestampField(default=utcnow, index=True)
    updated_at = UTCTimestampField(default=utcnow)

    class Meta:
        indexes = ((("model", "version"), True),)


# `stage` is the version's built-in label (none, staging, production, archived); who holds each
# stage, declared ones included, is StageHolder. The label keeps its own one-holder index.
ModelVersion.add_index(
    ModelVersion.index(ModelVersion.model, ModelVersion.stage, unique=True,
                       name="model_version_one_holder_per_stage")
    .where(SQL("stage IN ('staging', 'production')")))


class ModelStage(BaseModel):
    """A stage a team declared for one model, beyond the built-in staging and production."""
    model = ForeignKeyField(RegisteredModel, on_delete="CASCADE", backref="declared_stages")
    name = CharField(max_length=40)
    description = TextField(default="")
    requires_admin = BooleanField(default=False)
    on_degraded = CharField(max_length=16, null=True)  # null: the model's setting
    created_at = UTCTimestampField(default=utcnow)

    class Meta:
        indexes = ((("model", "name"), True),)


class StageHolder(BaseModel):
    """The version holding each stage now, built-in or declared. The unique (model, stage)
    index is the one-holder invariant; a version may hold several stages."""
    model = ForeignKeyField(RegisteredModel, on_delete="CASCADE", backref="holders")
    stage = CharField(max_length=40)
    version = ForeignKeyField(ModelVersion, backref="holdings")
    since = UTCTimestampField()

    class Meta:
        indexes = ((("model", "stage"), True),)


RUN_COLUMNS = {  # version column -> path in the `run` object
    "run_id": ("id",), "run_experiment": ("experiment",), "run_uri": ("uri",),
    "run_started_at": ("started_at",), "run_ended_at": ("ended_at",),
    "dataset_name": ("dataset", "name"), "dataset_version": ("dataset", "version"),
    "dataset_digest": ("dataset", "digest"), "code_repo": ("code", "repo"),
    "code_commit": ("code", "commit"), "code_branch": ("code", "branch"),
    "env_python": ("environment", "python"), "env_requirements": ("environment", "requirements"),
}


class VersionTag(BaseModel):
    version = ForeignKeyField(ModelVersion, on_delete="CASCADE", backref="tag_rows")
    key = CharField(max_length=128)
    value = CharField(max_length=512)

    class Meta:
        indexes = ((("version", "key"), True), (("key", "value"), False))


class Param(BaseModel):
    """A run parameter: numbers compare as numbers, everything else as text."""
    version = ForeignKeyField(ModelVersion, on_delete="CASCADE", backref="param_rows")
    key = CharField(max_length=256)
    value_json = TextField()  # the value as given (str, number or bool), JSON-encoded
    value_text = CharField(max_length=1024, null=True)
    value_num = DoubleField(null=True)

    class Meta:
        indexes = ((("version", "key"), True), (("key", "value_num"), False),
                   (("key", "value_text"), False))


class VersionFile(BaseModel):
    """A version's manifest entry: a path pointing at a content-addressed blob."""
    version = ForeignKeyField(ModelVersion, on_delete="CASCADE", backref="files")
    path = CharField(max_length=1024)
    size = BigIntegerField()
    sha256 = CharField(max_length=64, index=True)
    created_at = UTCTimestampField(default=utcnow)

    class Meta:
        indexes = ((("version", "path"), True),)


class Metric(BaseModel):
    """Append-only metric history."""
    version = ForeignKeyField(ModelVersion, on_delete="CASCADE", backref="metric_rows")
    key = CharField(max_length=256)
    value = DoubleField()
    source = CharField(max_length=16)
    recorded_at = UTCTimestampField(default=utcnow)

    class Meta:
        indexes = ((("version", "key", "recorded_at"), False),)


class MetricValue(BaseModel):
    """Search index: the newest training/evaluation value of each metric of a version."""
    version = ForeignKeyField(ModelVersion, on_delete="CASCADE", backref="metric_values")
    key = CharField(max_length=256)
    value = DoubleField()
    recorded_at = UTCTimestampField()

    class Meta:
        indexes = ((("version", "key"), True), (("key", "value"), False))


class StageMove(BaseModel):
    """Append-only history: one row per change of a stage's holder."""
    model = ForeignKeyField(RegisteredModel, on_delete="CASCADE", backref="stage_moves")
    stage = CharField(max_length=40)
    from_version = IntegerField(null=True)
    to_version = IntegerField(null=True)
    action = CharField(max_length=16)
    actor = CharField(max_length=256)
    reason = TextField(null=True)
    forced = BooleanField(default=False)
    evaluation_id = BigIntegerField(null=True)
    at = UTCTimestampField(default=utcnow)
    converged_at = UTCTimestampField(null=True)  # every target following the stage serves it

    class Meta:
        indexes = ((("model", "stage", "at"), False), (("model", "stage", "id"), False))


class DeploymentTarget(BaseModel):
    """A cluster, region or host group following one stage of one model, and what it last
    reported serving."""
    model = ForeignKeyField(RegisteredModel, on_delete="CASCADE", backref="deployment_targets")
    target = CharField(max_length=128)
    stage = CharField(max_length=40)
    version = IntegerField(null=True)
    state = CharField(max_length=16)  # pending | serving | failed
    detail = TextField(null=True)
    since = UTCTimestampField()  # when its version or state last changed
    last_seen = UTCTimestampField()
    reported_by = CharField(max_length=256)

    class Meta:
        indexes = ((("model", "target"), True),)


class DeploymentNotice(BaseModel):
    """`deployment.lagging` was raised for this move and target: the unique index makes it
    once."""
    move = ForeignKeyField(StageMove, on_delete="CASCADE")
    target = CharField(max_length=128)
    at = UTCTimestampField()

    class Meta:
        indexes = ((("move", "target"), True),)


class AlertReceipt(BaseModel):
    """An alert notification handled once: the same (fingerprint, startsAt, status) delivered
    again changes nothing again."""
    model = ForeignKeyField(RegisteredModel, on_delete="CASCADE")
    name = CharField(max_length=256)
    fingerprint = CharField(max_length=256)
    starts_at = CharField(max_length=64)
    status = CharField(max_length=16)
    at = UTCTimestampField()

    class Meta:
        indexes = ((("model", "fingerprint", "starts_at", "status"), True),)


class CriteriaRevision(BaseModel):
    """Append-only: every change of a model's criteria; the newest revision is in force."""
    model = ForeignKeyField(RegisteredModel, on_delete="CASCADE", backref="criteria_revisions")
    revision = IntegerField()
    stages = JSONTextField()  # only the stages this model sets; the others follow config
    actor = CharField(max_length=256)
    created_at = UTCTimestampField(default=utcnow)

    class Meta:
        indexes = ((("model", "revision"), True),)


class Evaluation(BaseModel):
    """One stored evaluation of a version against a stage's criteria, with what it used."""
    version = ForeignKeyField(ModelVersion, on_delete="CASCADE", backref="evaluations")
    stage = CharField(max_length=40)
    passed = BooleanField()
    results = JSONTextField()
    baseline_version = IntegerField(null=True)
    criteria = JSONTextField()  # the rules applied, as they were
    criteria_revision = IntegerField(null=True)  # null: the config defaults
    trigger = CharField(max_length=16)  # finalize | manual | promote | scheduled
    actor = CharField(max_length=256)
    evaluated_at = UTCTimestampField(default=utcnow)

    class Meta:
        indexes = ((("version", "stage", "id"), False),)


class Counter(BaseModel):
    """Named counters allocated under a row lock, so allocation order is commit order."""
    name = CharField(max_length=64, primary_key=True)
    value = BigIntegerField(default=0)


class Event(BaseModel):
    seq = BigIntegerField(primary_key=True)
    event_id = CharField(max_length=36, unique=True)
    type = CharField(max_length=64)
    model = CharField(max_length=128, null=True)
    version = IntegerField(null=True)
    stage = CharField(max_length=40, null=True)  # the stage a stage event is about
    actor = CharField(max_length=256)
    at = UTCTimestampField(default=utcnow)
    data = JSONTextField(default=dict)

    class Meta:
        indexes = ((("model", "seq"), False), (("type", "seq"), False), (("stage", "seq"), False))


class IdempotencyKey(BaseModel):
    scope = CharField(max_length=256)  # actor + operation + target
    key = CharField(max_length=256)
    request_hash = CharField(max_length=64)
    response = JSONTextField()
    created_at = UTCTimestampField(default=utcnow)

    class Meta:
        indexes = ((("scope", "key"), True),)


class ApiToken(BaseModel):
    """An API token: only its SHA-256 is stored; the token itself is shown once."""
    name = CharField(max_length=128, unique=True)
    role = CharField(max_length=16)
    token_hash = CharField(max_length=64, unique=True)
    subject = CharField(max_length=256, null=True)  # the person or system behind it; null: name
    created_by = CharField(max_length=256)
    created_at = UTCTimestampField(default=utcnow)
    last_used_at = UTCTimestampField(null=True)
    revoked_at = UTCTimestampField(null=True)


class PromotionRequest(BaseModel):
    """A request to promote a version, with the evaluation it was made with and the holder it
    saw; the approval that reaches `required` promotes as a compare-and-set on that holder."""
    model = ForeignKeyField(RegisteredModel, on_delete="CASCADE", backref="promotion_requests")
    version = ForeignKeyField(ModelVersion, on_delete="CASCADE")
    stage = CharField(max_length=40)
    status = CharField(max_length=16)  # open | approved | rejected | cancelled | expired | stale
    requested_by = CharField(max_length=256)
    requester_subject = CharField(max_length=256)
    reason = TextField()
    evaluation = JSONTextField()  # the evaluation view the request was made with
    required = IntegerField()
    expected_current_version = IntegerField(null=True)
    created_at = UTCTimestampField()
    expires_at = UTCTimestampField()
    decided_at = UTCTimestampField(null=True)
    decided_by = CharField(max_length=256, null=True)
    comment = TextField(null=True)  # why it was rejected or cancelled

    class Meta:
        indexes = ((("model", "status", "id"), False), (("status", "expires_at"), False))


class Approval(BaseModel):
    """One subject's approval of a request: the unique index counts each subject once."""
    request = ForeignKeyField(PromotionRequest, on_delete="CASCADE", backref="approval_rows")
    subject = CharField(max_length=256)
    actor = CharField(max_length=256)
    comment = TextField(null=True)
    at = UTCTimestampField()

    class Meta:
        indexes = ((("request", "subject"), True),)


class ConsoleSession(BaseModel):
    """A console sign-in: only its id's SHA-256 is stored. It lives while its token does, and
    until `expires_at` (ui.session_hours after sign-in)."""
    id_hash = CharField(max_length=64, unique=True)
    token = ForeignKeyField(ApiToken, on_delete="CASCADE", backref="console_sessions")
    created_at = UTCTimestampField()
    expires_at = UTCTimestampField(index=True)


class AuditRecord(BaseModel):
    """Append-only, hash-chained: one per event, written in the mutation's transaction."""
    seq = BigIntegerField(primary_key=True)  # the event's seq: gapless, in commit order
    at = UTCTimestampField()
    actor = CharField(max_length=256)
    action = CharField(max_length=64)
    model = CharField(max_length=128, null=True)
    version = IntegerField(null=True)
    request_id = CharField(max_length=128, null=True)
    client_address = CharField(max_length=64, null=True)
    summary = JSONTextField()
    previous_hash = CharField(max_length=64)
    hash = CharField(max_length=64, unique=True)

    class Meta:
        indexes = ((("model", "seq"), False), (("actor", "seq"), False), (("action", "seq"), False))


class JobRun(BaseModel):
    """One fire of a scheduled job. Inserting the row claims the fire: the unique index lets
    exactly one of several workers have it, so each fire runs once."""
    job = CharField(max_length=64)
    scheduled_for = UTCTimestampField()
    worker = CharField(max_length=128)
    started_at = UTCTimestampField()
    finished_at = UTCTimestampField(null=True)
    outcome = CharField(max_length=16)  # running | succeeded | failed | abandoned
    error = TextField(null=True)
    summary = JSONTextField(default=dict)

    class Meta:
        indexes = ((("job", "scheduled_for"), True),)


class Report(BaseModel):
    """A generated manager report; its body is the JSON form, the other forms render from it."""
    created_at = UTCTimestampField(default=utcnow, index=True)
    period_start = UTCTimestampField()
    period_end = UTCTimestampField()
    trigger = CharField(max_length=16)  # manual | scheduled
    actor = CharField(max_length=256)
    models = JSONTextField(null=True)  # the names asked for; null: every model
    summary = JSONTextField()  # also in the body's counts; kept apart so lists skip the bodies
    body = JSONTextField()


TABLES = [*WEBHOOK_TABLES, RegisteredModel, ModelTag, ModelVersion, ModelStage, StageHolder,
          VersionTag, Param, VersionFile, Metric, MetricValue, StageMove, CriteriaRevision,
          Evaluation, Counter, Event, IdempotencyKey, ApiToken, ConsoleSession, AuditRecord, JobRun,
          Report, PromotionRequest, Approval, DeploymentTarget, DeploymentNotice, AlertReceipt]
