"""Evaluating versions against their model's criteria, and the stored evaluations."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json

from peewee import fn

from registry.db import (Placeholder, among_sql, fetch_prepared, ids_param, insert_rows,
                         select_prepared, write_transaction)
from registry.domain import events
from registry.domain import criteria as rules
from registry.models import (RUN_COLUMNS, Evaluation, Metric, MetricValue, ModelVersion, Param,
                             RegisteredModel, VersionTag)
from registry.services.criteria import Criteria, criteria_for
from registry.services.events import append_event
from registry.services.holders import stage_holder
from registry.services.lookup import find_model, find_version
from registry.services.pages import Page, newest_first
from registry.services.stage_catalog import stage_rule
from registry.services.timefmt import rfc3339, utcnow

SCHEDULER = "scheduler"  # the actor of everything the scheduled jobs do


def _newest_live(row: ModelVersion) -> dict[str, tuple[float, dt.datetime]]:
    newest = (Metric.select(Metric.key, fn.MAX(Metric.recorded_at).alias("at"))
              .where((Metric.version == row) & (Metric.source == "live"))
              .group_by(Metric.key))
    live = {}
    for key, value, at in (Metric.select(Metric.key, Metric.value, Metric.recorded_at)
                           .join(newest, on=((Metric.key == newest.c.key)
                                             & (Metric.recorded_at == newest.c.at)))
                           .where((Metric.version == row) & (Metric.source == "live"))
                           .order_by(Metric.id).tuples()):
        live[key] = (value, at)
    return live


def _metadata(row: ModelVersion) -> dict:
    metadata = {"description": row.description, "source_uri": row.source_uri}
    for column, path in RUN_COLUMNS.items():
        metadata[".".join(("run",) + path)] = getattr(row, column)
    for key, value in Param.select(Param.key, Param.value_json).where(Param.version == row).tuples():
        metadata[f"run.params.{key}"] = json.loads(value)
    for key, value in VersionTag.select(VersionTag.key, VersionTag.value).where(
            VersionTag.version == row).tuples():
        metadata[f"tags.{key}"] = value
    return metadata


def load_subject(row: ModelVersion) -> rules.Subject:
    """A version's metrics (newest offline and newest live) and metadata, as the rules see them."""
    metrics = dict(MetricValue.select(MetricValue.key, MetricValue.value)
                   .where(MetricValue.version == row).tuples())
    return rules.Subject(version=row.version, metrics=metrics, live=_newest_live(row),
                         metadata=_metadata(row))


def verdicts_since_taking_stage(holder: ModelVersion, stage: str) -> list[bool]:
    """Passed or not for each stored evaluation of `holder` for `stage` since it took the stage,
    newest first (the promotion's own evaluation included)."""
    return [passed for (passed,) in
            Evaluation.select(Evaluation.passed)
            .where((Evaluation.version == holder) & (Evaluation.stage == stage)
                   & (Evaluation.evaluated_at >= holder.held_since))
            .order_by(Evaluation.id.desc()).tuples()]


def evaluation_view(model_name: str, record: Evaluation | dict) -> dict:
    if isinstance(record, Evaluation):
        record = {"id": record.id, "version": record.version.version, "stage": record.stage,
                  "passed": record.passed, "results": record.results,
                  "baseline_version": record.baseline_version,
                  "criteria_revision": record.criteria_revision, "trigger": record.trigger,
                  "actor": record.actor, "evaluated_at": rfc3339(record.evaluated_at)}
    return {"model": model_name, **record}


def evaluate_row(model: RegisteredModel, row: ModelVersion, stage: str, *, trigger: str,
                 actor: str, now: dt.datetime, store: bool = True,
                 in_force: Criteria | None = None, subject: rules.Subject | None = None,
                 holders_read: dict | None = None) -> dict:
    """Evaluate a version for a stage against the criteria in force and the holders of the
    stages its compare rules name (production's is the baseline when there are none).

    With `store` the evaluation is written (inside the caller's transaction) and the view has
    its id; without, the view's id is None and `save_evaluation` may store it later. A caller
    evaluating several stages passes the criteria and the version's subject it already read,
    and a dict in `holders_read` that keeps the stage holders read for one stage for the next.
    Raises UnknownStage for a stage the model does not have.
    """
    in_force = in_force or criteria_for(model)
    if stage not in in_force.stages:
        stage_rule(model, stage)  # raises UnknownStage
    stage_rules = in_force.stages[stage]
    baselines = _baselines(model, row, stage_rules, {} if holders_read is None else holders_read)
    if subject is None:
        subject = load_subject(row) if stage_rules else rules.Subject(version=row.version)
    outcome = rules.evaluate(subject, stage_rules, stage=stage,
                             baseline=baselines.pop("production"), baselines=baselines, now=now)
    view = evaluation_view(model.name, {
        "id": None, "version": row.version, "stage": stage, "passed": outcome.passed,
        "results": [dataclasses.asdict(result) for result in outcome.results],
        "baseline_version": outcome.baseline_version,
        "criteria_revision": None if stage in in_force.inherited else in_force.revision,
        "trigger": trigger, "actor": actor, "evaluated_at": rfc3339(now)})
    return save_evaluation(row, view, now=now) if store else view


def _baselines(model: RegisteredModel, row: ModelVersion, stage_rules: list[dict],
               read: dict) -> dict[str, rules.Subject | None]:
    """The holders one stage's rules compare with, production's always (its number at least)."""
    compared = {rule["compare_to"] for rule in stage_rules if "compare_to" in rule}
    baselines = {name: _baseline(model, name, row, read=read) for name in compared}
    if "production" not in baselines:  # only its version is shown: no rule reads its metrics
        baselines["production"] = _baseline(model, "production", row, read=read,
                                            version_only=True)
    return baselines


def _holder_number_sql(param: Placeholder) -> str:
    return ("SELECT v.id, v.version FROM stage_holder h JOIN model_version v ON v.id = h.version_id "
            f"WHERE h.model_id = {param(1)} AND h.stage = {param(2)}")


def _baseline(model: RegisteredModel, stage: str, row: ModelVersion, *, read: dict,
              version_only: bool = False) -> rules.Subject | None:
    """The stage holder as a rule compares with it (only its number with `version_only`), or
    None when the stage is empty or held by `row`; kept in `read` for the next stage."""
    if (stage, version_only) not in read:
        if version_only:
            held = fetch_prepared("holder_number", _holder_number_sql, (model.id, stage))
            subject = rules.Subject(version=held[0][1]) if held and held[0][0] != row.id else None
        else:
            holder = stage_holder(model, stage)
            subject = load_subject(holder) if holder and holder.id != row.id else None
        read[stage, version_only] = subject
    return read[stage, version_only]


def save_evaluation(row: ModelVersion, view: dict, *, now: dt.datetime) -> dict:
    """Store an evaluation built by evaluate_row(store=False); sets and returns its id."""
    return save_evaluations(row, [view], now=now)[0]


def save_evaluations(row: ModelVersion, views: list[dict], *, now: dt.datetime) -> list[dict]:
    """Store evaluations built by evaluate_row(store=False) in one statement; sets their ids."""
    if not views:
        return views
    ids = insert_rows(Evaluation, [{
        "version": row.id, "stage": view["stage"], "passed": view["passed"],
        "results": view["results"], "baseline_version": view["baseline_version"],
        "criteria": [result["rule"] for result in view["results"]],  # every rule has a result
        "criteria_revision": view["criteria_revision"], "trigger": view["trigger"],
        "actor": view["actor"], "evaluated_at": now} for view in views], returning_id=True)
    for view, new_id in zip(views, ids):
        view["id"] = new_id
    return views


def evaluate_version(model_name: str, number: int, stage: str, *, actor: str,
                     now: dt.datetime | None = None) -> dict:
    """Evaluate a version for `stage` now and store the result (trigger `manual`).

    One transaction stores the evaluation and the event `evaluation.completed`. Raises
    ModelNotFound, VersionNotFound.
    """
    now = now or utcnow()
    with write_transaction():
        model = find_model(model_name, for_update=True)
        row = find_version(model, number)
        view = evaluate_row(model, row, stage, trigger="manual", actor=actor, now=now)
        append_event(events.EVALUATION_COMPLETED, actor=actor, model=model.name, version=number,
                     now=now, data={"evaluation": view})
    return view


@dataclasses.dataclass(frozen=True)
class EvaluationInputs:
    """What evaluating a version for every stage reads from the database."""
    in_force: Criteria
    subject: rules.Subject | None  # None when no stage has rules
    holders_read: dict


def read_evaluation_inputs(model: RegisteredModel, row: ModelVersion) -> EvaluationInputs:
    """The criteria in force, the version's metrics and metadata, and every stage holder its
    rules compare with, so that evaluate_for_all_stages needs no further read. A registration
    reads them before it locks its model to take a number: what it stores is then measured
    against the holders as they were a moment before, and says which (`baseline_version`)."""
    in_force = criteria_for(model)
    subject = load_subject(row) if any(in_force.stages.values()) else None
    holders_read: dict = {}
    for stage_rules in in_force.stages.values():
        _baselines(model, row, stage_rules, holders_read)
    return EvaluationInputs(in_force, subject, holders_read)


def evaluate_for_all_stages(model: RegisteredModel, row: ModelVersion, *, trigger: str,
                            actor: str, now: dt.datetime,
                            inputs: EvaluationInputs | None = None) -> list[dict]:
    """Evaluate and store for every stage of the model (built-in and declared), inside the
    caller's transaction; the criteria, the version's metrics and metadata and the holders are
    read once, or come from `inputs` read earlier in the transaction (the version's number may
    have been set since: the one on `row` counts)."""
    inputs = inputs or read_evaluation_inputs(model, row)
    subject = inputs.subject and dataclasses.replace(inputs.subject, version=row.version)
    views = [evaluate_row(model, row, stage, trigger=trigger, actor=actor, now=now,
                          store=False, in_force=inputs.in_force, subject=subject,
                          holders_read=inputs.holders_read)
             for stage in inputs.in_force.stages]
    return save_evaluations(row, views, now=now)


def list_evaluations(model_name: str, number: int, *, stage: str | None = None, limit: int = 50,
                     cursor: str | None = None) -> Page:
    """A version's stored evaluations, newest first; raises ModelNotFound, VersionNotFound."""
    model = find_model(model_name)
    row = find_version(model, number)
    query = Evaluation.select().where(Evaluation.version == row)
    if stage:
        query = query.where(Evaluation.stage == stage)
    records, next_cursor = newest_first(query, Evaluation.id, limit=limit, cursor=cursor)
    for record in records:
        record.version = row  # spare a query per row
    return Page([evaluation_view(model.name, r) for r in records], next_cursor)


def latest_evaluations(rows: list[ModelVersion], model_names: dict[int, str]) -> dict[int, dict]:
    """version id -> {stage: newest evaluation view}, in one prepared query whatever the count."""
    by_id = {row.id: row for row in rows}
    latest: dict[int, dict] = {row.id: {} for row in rows}
    newest = select_prepared("latest_evaluations", Evaluation, lambda param: (
        "WHERE id IN (SELECT MAX(id) FROM evaluation "
        f"WHERE version_id {among_sql(param(1))} GROUP BY version_id, stage)"),
        (ids_param(list(by_id)),))
    for record in newest:
        row = by_id[record.version_id]
        record.version = row
        latest[row.id][record.stage] = evaluation_view(model_names[row.model_id], record)
    return latest
