"""What actually serves: deployment targets report the version they run, the registry compares
it with the stage's holder, records when a move converged (every target following the stage
serves the new holder) and raises `deployment.lagging` for targets that do not follow.

Reports take the model's row lock, as stage moves do, so a report and a move of the same model
never interleave and convergence is decided once per move.
"""
from __future__ import annotations

import datetime as dt

from peewee import IntegrityError

from registry.db import write_transaction
from registry.domain import events
from registry.domain.errors import InvalidInput, NotFound
from registry.domain.names import MODEL_NAME
from registry.models import (DeploymentNotice, DeploymentTarget, ModelVersion, RegisteredModel,
                             StageHolder, StageMove)
from registry.services.events import append_event
from registry.services.lookup import find_model, find_version
from registry.services.stage_catalog import stage_rule
from registry.services.timefmt import rfc3339, utcnow

STATES = ("pending", "serving", "failed")


def _desired(model_ids: list[int]) -> dict[tuple[int, str], int]:
    """(model id, stage) -> the version holding it now."""
    return {(model_id, stage): number for model_id, stage, number in
            StageHolder.select(StageHolder.model, StageHolder.stage, ModelVersion.version)
            .join(ModelVersion).where(StageHolder.model.in_(model_ids)).tuples()}


def _view(row: DeploymentTarget, model_name: str, desired: int | None) -> dict:
    return {"model": model_name, "target": row.target, "stage": row.stage,
            "desired_version": desired, "version": row.version, "state": row.state,
            "detail": row.detail, "since": rfc3339(row.since), "last_seen": rfc3339(row.last_seen),
            "reported_by": row.reported_by,
            "converged": desired is not None and row.state == "serving" and row.version == desired}


def _newest_move(model: RegisteredModel, stage: str) -> StageMove | None:
    return (StageMove.select().where((StageMove.model == model) & (StageMove.stage == stage))
            .order_by(StageMove.id.desc()).first())


def _check_convergence(model: RegisteredModel, stage: str, *, actor: str,
                       now: dt.datetime) -> None:
    """When every target following `stage` serves the holder the newest move put there, record
    it on that move (once) with the event `deployment.converged`."""
    move = _newest_move(model, stage)
    if move is None or move.to_version is None or move.converged_at is not None:
        return
    targets = list(DeploymentTarget.select().where((DeploymentTarget.model == model)
                                                   & (DeploymentTarget.stage == stage)))
    if not targets or not all(t.state == "serving" and t.version == move.to_version
                              for t in targets):
        return
    move.converged_at = now
    move.save(only=[StageMove.converged_at])
    append_event(events.DEPLOYMENT_CONVERGED, actor=actor, model=model.name,
                 version=move.to_version, stage=stage, now=now,
                 data={"stage": stage, "version": move.to_version, "move_seq": move.id,
                       "seconds": round((now - move.at).total_seconds(), 3),
                       "targets": sorted(t.target for t in targets)})


def report(model_name: str, target: str, *, stage: str, version: int | None, state: str,
           detail: str | None = None, actor: str, now: dt.datetime | None = None) -> dict:
    """Record what `target` serves. A new version or state is the event `deployment.reported`;
    the same one again is a heartbeat (only `last_seen` changes). Then, under the model's lock,
    the stage's newest move is checked for convergence. Raises ModelNotFound, UnknownStage,
    VersionNotFound, InvalidInput (a target name that does not follow the model-name pattern)."""
    if not MODEL_NAME.match(target):
        raise InvalidInput("target names follow the model-name pattern",
                           errors={"target": ["letters, digits, '.', '_' and '-', at most 128"]})
    now = now or utcnow()
    with write_transaction():
        model = find_model(model_name, for_update=True)
        stage_rule(model, stage)
        if version is not None:
            find_version(model, version)
        row = DeploymentTarget.get_or_none((DeploymentTarget.model == model)
                                           & (DeploymentTarget.target == target))
        changed = row is None or (row.stage, row.version, row.state, row.detail) != (
            stage, version, state, detail)
        if row is None:
            row = DeploymentTarget(model=model, target=target, since=now)
        elif changed:
            row.since = now
        row.stage, row.version, row.state, row.detail = stage, version, state, detail
        row.last_seen, row.reported_by = now, actor
        row.save()
        desired = _desired([model.id]).get((model.id, stage))
        if changed:
            append_event(events.DEPLOYMENT_REPORTED, actor=actor, model=model.name,
                         version=version, stage=stage, now=now,
                         data={"target": target, "stage": stage, "version": version,
                               "state": state, "detail": detail, "desired_version": desired})
            _check_convergence(model, stage, actor=actor, now=now)
        return _view(row, model.name, desired)


def forget(model_name: str, target: str) -> None:
    """Stop tracking a target; raises ModelNotFound, NotFound."""
    with write_transaction():
        model = find_model(model_name, for_update=True)
        gone = DeploymentTarget.delete().where((DeploymentTarget.model == model)
                                               & (DeploymentTarget.target == target)).execute()
    if not gone:
        raise NotFound(f"model '{model_name}' has no deployment target '{target}'")


def list_targets(model_name: str | None = None, *, converged: bool | None = None) -> list[dict]:
    """Targets with the version they serve next to the one their stage wants, by model and
    target; `converged` filters. Raises ModelNotFound."""
    query = DeploymentTarget.select(DeploymentTarget, RegisteredModel.name).join(RegisteredModel)
    if model_name:
        query = query.where(DeploymentTarget.model == find_model(model_name))
    rows = list(query.order_by(RegisteredModel.name, DeploymentTarget.target).objects())
    desired = _desired(list({row.model_id for row in rows}))
    views = [_view(row, row.name, desired.get((row.model_id, row.stage))) for row in rows]
    return [v for v in views if converged is None or v["converged"] == converged]


def _lag_reason(row: DeploymentTarget, move: StageMove, now: dt.datetime, *, timeout_s: float,
                stale_after_s: float) -> str | None:
    silent = (now - row.last_seen).total_seconds()
    if silent > stale_after_s:
        return f"silent for {silent:.0f} s"
    converged = row.state == "serving" and row.version == move.to_version
    waited = (now - move.at).total_seconds()
    if not converged and waited > timeout_s:
        return (f"not serving version {move.to_version} {waited:.0f} s after the move "
                f"(it reports {row.state} version {row.version})")
    return None


def check_lagging(*, timeout_s: float, stale_after_s: float,
                  now: dt.datetime | None = None) -> dict:
    """The scheduler's check: `deployment.lagging` for each target that has not converged
    `timeout_s` after its stage's newest move, or was silent `stale_after_s`; once per move and
    target (a unique index decides, so several workers raise it once)."""
    now = now or utcnow()
    raised = 0
    for row in DeploymentTarget.select(DeploymentTarget, RegisteredModel).join(RegisteredModel):
        move = _newest_move(row.model, row.stage)
        if move is None or move.to_version is None:
            continue
        reason = _lag_reason(row, move, now, timeout_s=timeout_s, stale_after_s=stale_after_s)
        if reason is None:
            continue
        try:
            with write_transaction():
                DeploymentNotice.create(move=move, target=row.target, at=now)
                append_event(events.DEPLOYMENT_LAGGING, actor="scheduler", model=row.model.name,
                             version=move.to_version, stage=row.stage, now=now,
                             data={"target": row.target, "stage": row.stage,
                                   "desired_version": move.to_version, "version": row.version,
                                   "state": row.state, "move_seq": move.id, "reason": reason})
            raised += 1
        except IntegrityError:  # raised for this move and target already
            continue
    return {"lagging": raised}
