"""Stage moves: gated promotion and one-call rollback. Reads of holders and history are in
holders.py.

Every move locks the model row first (FOR UPDATE on PostgreSQL, the IMMEDIATE write lock on
SQLite), so moves of one model serialise; the unique index of the holder relation keeps at most
one holder per stage, built-in or declared, whatever happens. A move's stage changes, history rows, evaluation and event commit as one.
Each use case reads as its steps, in order, as named functions below it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import Callable

from registry.db import write_transaction
from registry.domain import events
from registry.domain.errors import (ApprovalRequired, CriteriaNotMet, Forbidden, InvalidInput,
                                    NoRollbackTarget)
from registry.domain.stages import (HELD_STAGES, Holding, check_expected, check_promotable,
                                    check_stage_access, plan_rollback, rollback_skips,
                                    stage_etag)
from registry.models import ModelVersion, RegisteredModel, StageHolder, StageMove, VersionFile
from registry.services import idempotency
from registry.services.evaluations import evaluate_row, save_evaluation
from registry.services.events import append_event
from registry.services.holders import (RECENT_MOVES, earlier_holders, ever_held,
                                       stage_holder, stage_revision)
from registry.services.lookup import find_model, find_version
from registry.services.stage_catalog import stage_rule
from registry.services.timefmt import utcnow
from registry.storage import ArtifactStore

MOVED_COLUMNS = [ModelVersion.stage, ModelVersion.stage_since, ModelVersion.updated_at,
                 ModelVersion.rolled_back]


@dataclass(frozen=True)
class Precondition:
    """A compare-and-set on the stage holder: the body's `expected_current_version` (given
    even when null) and/or the `If-Match` ETags."""
    expect_given: bool = False
    expected: int | None = None
    if_match: list[str] | None = None


@dataclass(frozen=True)
class Mover:
    """Who moves a stage, and how a repeated call is recognised."""
    actor: str
    is_admin: bool
    idempotency_key: str | None = None
    idempotency_ttl_s: int = idempotency.DEFAULT_TTL_S


def promote(model_name: str, number: int, *, stage: str = "production", actor: str,
            reason: str | None = None, force: bool = False, dry_run: bool = False,
            precondition: Precondition = Precondition(), idempotency_key: str | None = None,
            idempotency_ttl_s: int = idempotency.DEFAULT_TTL_S, is_admin: bool,
            imported_from: str | None = None, now: dt.datetime | None = None
            ) -> tuple[dict, bool]:
    """Move a ready version into a stage (built-in or declared) if it meets its criteria.

    Under the model's lock: checks the precondition, evaluates the version (baselines: the
    holders of the stages its rules compare to), then replaces the previous holder (archived
    when it leaves a built-in stage) and writes the move, its history row, the stored
    evaluation and the event `model.promoted` in one transaction. `force` (with
    a reason) overrides failed criteria and is recorded. `dry_run` answers the same without
    writing anything. Returns (answer, replayed). Raises ModelNotFound, VersionNotFound,
    UnknownStage, StageConflict (not ready, already there), StaleVersion, CriteriaNotMet (with
    the evaluation), InvalidInput (force without reason), IdempotencyMismatch, Forbidden
    (`force`, or a stage that requires the admin role, without `is_admin`).

    `imported_from` records a move brought over from another registry: it needs `force`, and
    the history row and event name `import:<source>` as the actor, the event's `imported_by`
    the caller.
    """
    if force and not is_admin:
        raise Forbidden("a forced promotion needs the admin role", required_role="admin")
    if force and not reason:
        raise InvalidInput("a forced promotion needs a reason", errors={"reason": ["required with force"]})
    if imported_from and not force:
        raise InvalidInput("an imported move states what another registry holds; it needs force",
                           errors={"force": ["required with imported_from"]})
    importer = {"imported_by": actor} if imported_from else {}
    actor = f"import:{imported_from}" if imported_from else actor
    mover = Mover(actor, is_admin, idempotency_key, idempotency_ttl_s)
    now = now or utcnow()
    request = {"version": number, "stage": stage, "reason": reason, "force": force,
               "precondition": precondition.__dict__, **importer}
    with write_transaction():
        model = find_model(model_name, for_update=True)
        steps = partial(_promote_locked, model, number, stage, mover, reason=reason, force=force,
                        dry_run=dry_run, precondition=precondition, now=now, extra=importer)
        return _once(steps, f"{actor}:promote:{model.name}", request, mover, dry_run=dry_run,
                     now=now)


def _promote_locked(model: RegisteredModel, number: int, stage: str, mover: Mover, *,
                    reason: str | None, force: bool, dry_run: bool, precondition: Precondition,
                    now: dt.datetime, extra: dict) -> dict:
    """The promotion's steps, under the model's lock."""
    _check_access(model, stage, mover)
    bypassing = _check_approvals(model, stage, force=force)
    row = find_version(model, number)
    holder = stage_holder(model, stage)
    holds = frozenset([stage]) if holder is not None and holder.id == row.id else frozenset()
    check_promotable(_holding(row, holds), stage)
    _check_precondition(model, stage, holder, precondition)
    evaluation = _gate(model, row, stage, force=force, actor=mover.actor, now=now)
    answer = {"model": model.name, "stage": stage, "version": number,
              "previous_version": holder.version if holder else None,
              "evaluation": evaluation, "forced": force, "reason": reason}
    if dry_run:
        return {**answer, "event_seq": None, "dry_run": True}
    save_evaluation(row, evaluation, now=now)
    _move_into_stage(model, row, stage, holder, action="promote", actor=mover.actor,
                     reason=reason, now=now, forced=force, evaluation_id=evaluation["id"])
    event = append_event(events.MODEL_PROMOTED, actor=mover.actor, model=model.name,
                         version=number, now=now, stage=stage,
                         data={"stage": stage, "version": number,
                               "previous_version": answer["previous_version"], "forced": force,
                               "reason": reason, "evaluation_id": evaluation["id"],
                               "production_version": _production_after(model, stage, number),
                               **({"bypassed_approval": True} if bypassing else {}), **extra})
    return {**answer, "event_seq": event.seq}


def approvals_required(model: RegisteredModel, stage: str) -> int:
    """How many approvals a promotion into `stage` needs (0: none)."""
    return (model.approvals or {}).get(stage, {}).get("required", 0)


def _check_approvals(model: RegisteredModel, stage: str, *, force: bool) -> bool:
    """Raises ApprovalRequired when the stage needs approved requests, unless the promotion is
    forced (admin, with a reason), which bypasses them on the record. True when it does."""
    required = approvals_required(model, stage)
    if required and not force:
        raise ApprovalRequired(f"{stage} of '{model.name}' needs {required} approval(s): open a "
                               f"promotion request (POST /api/v1/models/{model.name}/"
                               "promotion-requests), or force it as an admin with a reason")
    return bool(required)


def promote_approved(model: RegisteredModel, row: ModelVersion, stage: str,
                     holder: ModelVersion | None, *, actor: str, reason: str,
                     evaluation_id: int, request_id: int, approved_by: list[str],
                     now: dt.datetime) -> int:
    """Inside the approvals service's transaction, under the model's lock, with the holder
    already compared with the one the request saw: the move, its history row and the event
    `model.promoted` (naming the request and its approvers). Returns the event's seq."""
    previous = holder.version if holder else None
    _move_into_stage(model, row, stage, holder, action="promote", actor=actor, reason=reason,
                     now=now, evaluation_id=evaluation_id)
    return append_event(events.MODEL_PROMOTED, actor=actor, model=model.name, version=row.version,
                        now=now, stage=stage,
                        data={"stage": stage, "version": row.version,
                              "previous_version": previous, "forced": False, "reason": reason,
                              "evaluation_id": evaluation_id,
                              "production_version": _production_after(model, stage, row.version),
                              "request_id": request_id, "approved_by": approved_by}).seq


def _gate(model: RegisteredModel, row: ModelVersion, stage: str, *, force: bool, actor: str,
          now: dt.datetime) -> dict:
    """Evaluate the version for the stage; raises CriteriaNotMet unless it passes or is forced.
    Nothing is stored here: a refused promotion changes nothing."""
    evaluation = evaluate_row(model, row, stage, trigger="promote", actor=actor, now=now,
                              store=False)
    if not evaluation["passed"] and not force:
        raise CriteriaNotMet(f"version {row.version} does not meet the {stage} criteria: "
                             + " ".join(r["message"] for r in evaluation["results"]
                                        if not r["passed"]), evaluation=evaluation)
    return evaluation


def rollback(model_name: str, *, stage: str = "production", actor: str, store: ArtifactStore,
             to_version: int | None = None, reason: str | None = None, dry_run: bool = False,
             precondition: Precondition = Precondition(), idempotency_key: str | None = None,
             idempotency_ttl_s: int = idempotency.DEFAULT_TTL_S, is_admin: bool,
             evaluation_id: int | None = None,
             now: dt.datetime | None = None) -> tuple[dict, bool]:
    """Return a stage to an earlier holder in one transaction; returns (answer, replayed).

    The target is `to_version` (it must have held the stage) or the newest earlier holder that
    is ready, never rolled back from, and whose files pass the quick integrity check. The
    version rolled back from is archived and marked `rolled_back`. The move, its history row
    (actor, reason) and the event `model.rolled_back` commit together; criteria are not
    re-checked, an incident is no time for a gate; `evaluation_id` names the failed evaluation
    that prompted an automatic rollback in the history row. Raises ModelNotFound, UnknownStage,
    VersionNotFound, NoRollbackTarget / Conflict (409, with why), StaleVersion,
    IdempotencyMismatch, Forbidden.
    """
    mover = Mover(actor, is_admin, idempotency_key, idempotency_ttl_s)
    now = now or utcnow()
    integrity = _FileIntegrity(store, _precheck_files(model_name, stage, to_version, store))
    request = {"stage": stage, "to_version": to_version, "reason": reason,
               "precondition": precondition.__dict__}
    with write_transaction():
        model = find_model(model_name, for_update=True)
        steps = partial(_roll_back_locked, model, stage, mover, to_version=to_version,
                        reason=reason, dry_run=dry_run, precondition=precondition,
                        integrity=integrity, evaluation_id=evaluation_id, now=now)
        return _once(steps, f"{actor}:rollback:{model.name}", request, mover, dry_run=dry_run,
                     now=now)


def _roll_back_locked(model: RegisteredModel, stage: str, mover: Mover, *,
                      to_version: int | None, reason: str | None, dry_run: bool,
                      precondition: Precondition, integrity: _FileIntegrity,
                      evaluation_id: int | None, now: dt.datetime) -> dict:
    """The rollback's steps, under the model's lock."""
    _check_access(model, stage, mover)
    current = stage_holder(model, stage)
    _check_precondition(model, stage, current, precondition)
    explicit = find_version(model, to_version) if to_version is not None else None
    holders = {row.version: row for row in earlier_holders(model, stage, recent=RECENT_MOVES)}
    integrity.rows = {**holders, **({explicit.version: explicit} if explicit else {})}
    plan = partial(plan_rollback, stage, _holding(current) if current else None,
                   files_intact=integrity.intact,
                   to_version=_holding(explicit) if explicit else None,
                   to_version_held=explicit is not None and ever_held(model, stage, to_version))
    try:
        target = plan([_holding(row) for row in holders.values()])
    except NoRollbackTarget:  # not among the newest moves: read the whole history
        holders = {row.version: row for row in earlier_holders(model, stage)}
        integrity.rows.update(holders)
        target = plan([_holding(row) for row in holders.values()])
    skipped = [] if explicit else rollback_skips(
        _holding(current), [_holding(row) for row in holders.values()], target.version,
        integrity.intact)
    answer = {"model": model.name, "stage": stage, "version": target.version,
              "rolled_back_version": current.version, "reason": reason, "skipped": skipped}
    if dry_run:
        return {**answer, "event_seq": None, "dry_run": True}
    _move_into_stage(model, explicit or holders[target.version], stage, current,
                     action="rollback", actor=mover.actor, reason=reason, now=now,
                     evaluation_id=evaluation_id)
    event = append_event(events.MODEL_ROLLED_BACK, actor=mover.actor, model=model.name,
                         version=target.version, now=now, stage=stage,
                         data={"stage": stage, "version": target.version,
                               "rolled_back_version": current.version, "reason": reason,
                               "production_version": _production_after(model, stage,
                                                                       target.version)})
    return {**answer, "event_seq": event.seq}


class _FileIntegrity:
    """Whether a candidate's files are intact: the answers checked before the transaction (the
    store may be across the network), and a check now for a candidate the state moved to."""

    def __init__(self, store: ArtifactStore, checked: dict[int, bool]) -> None:
        self.store, self.checked = store, checked
        self.rows: dict[int, ModelVersion] = {}

    def intact(self, number: int) -> bool:
        if number not in self.checked:  # the state moved since the pre-check: rare
            self.checked[number] = files_intact(self.rows[number], self.store)
        return self.checked[number]


def files_intact(row: ModelVersion, store: ArtifactStore) -> bool:
    """The quick integrity check: every file is in the store with its recorded size."""
    return all(store.size(sha256) == size for sha256, size in
               VersionFile.select(VersionFile.sha256, VersionFile.size)
               .where(VersionFile.version == row).tuples())


def _precheck_files(model_name: str, stage: str, to_version: int | None,
                    store: ArtifactStore) -> dict[int, bool]:
    """Integrity of the likely targets, read before the transaction: version -> files intact,
    in candidate order up to the first intact one."""
    model = find_model(model_name)
    current = stage_holder(model, stage)
    if to_version is not None:
        row = ModelVersion.get_or_none((ModelVersion.model == model)
                                       & (ModelVersion.version == to_version))
        return {to_version: files_intact(row, store)} if row else {}
    checked: dict[int, bool] = {}
    for row in earlier_holders(model, stage, recent=RECENT_MOVES):
        if (current is None or row.id != current.id) and row.status == "ready" \
                and not row.rolled_back:
            checked[row.version] = files_intact(row, store)
            if checked[row.version]:
                break
    return checked


def _once(steps: Callable[[], dict], scope: str, request: dict, mover: Mover, *, dry_run: bool,
          now: dt.datetime) -> tuple[dict, bool]:
    """Run a move's steps under the lock already held, once per idempotency key; a dry run is
    never remembered for its key."""
    if dry_run:
        return steps(), False
    return idempotency.run_once(scope, mover.idempotency_key, request, steps,
                                ttl_s=mover.idempotency_ttl_s, now=now)


def _holding(row: ModelVersion, holds: frozenset[str] = frozenset()) -> Holding:
    return Holding(version=row.version, status=row.status, stage=row.stage,
                   rolled_back=row.rolled_back, holds=holds)


def _check_access(model: RegisteredModel, stage: str, mover: Mover) -> None:
    """Raises UnknownStage, or Forbidden when the stage requires an admin."""
    check_stage_access(model.name, stage_rule(model, stage), is_admin=mover.is_admin)


def _check_precondition(model: RegisteredModel, stage: str, holder: ModelVersion | None,
                        precondition: Precondition) -> None:
    etag = stage_etag(stage_revision(model, stage), holder.version, holder.held_since) \
        if holder and precondition.if_match is not None else None
    check_expected(stage, holder.version if holder else None,
                   expected=precondition.expected, expect_given=precondition.expect_given,
                   if_match=precondition.if_match, current_etag=etag)


def _move_into_stage(model: RegisteredModel, row: ModelVersion, stage: str,
                     previous: ModelVersion | None, *, action: str, actor: str,
                     reason: str | None, now: dt.datetime, forced: bool = False,
                     evaluation_id: int | None = None) -> None:
    """Make `row` the holder of `stage` in place of `previous` (read under the model's lock) and
    write the history rows. The built-in label follows the built-in stages: `previous` is
    archived when it leaves one, and `row` leaves the other built-in stage it held (a staging
    holder promoted to production), with a history row for that."""
    if previous is not None:
        if previous.stage == stage:
            previous.stage, previous.stage_since = "archived", now
        previous.updated_at = now
        previous.rolled_back = previous.rolled_back or action == "rollback"
        previous.save(only=MOVED_COLUMNS)
    if stage in HELD_STAGES:
        if row.stage in HELD_STAGES:
            _leave(model, row, row.stage, action=action, actor=actor,
                   reason=reason or f"moved to {stage}", now=now)
        row.stage, row.stage_since = stage, now
    row.updated_at, row.rolled_back = now, False
    row.save(only=MOVED_COLUMNS)
    if previous is None:
        StageHolder.create(model=model, stage=stage, version=row, since=now)
    else:
        StageHolder.update(version=row, since=now).where(
            (StageHolder.model == model) & (StageHolder.stage == stage)).execute()
    StageMove.create(model=model, stage=stage, from_version=previous.version if previous else None,
                     to_version=row.version, action=action, actor=actor, reason=reason,
                     forced=forced, evaluation_id=evaluation_id, at=now)


def _leave(model: RegisteredModel, row: ModelVersion, stage: str, *, action: str, actor: str,
           reason: str | None, now: dt.datetime) -> None:
    """`row` stops holding `stage`, which is left empty; a history row records it."""
    StageHolder.delete().where((StageHolder.model == model) & (StageHolder.stage == stage)
                               & (StageHolder.version == row)).execute()
    StageMove.create(model=model, stage=stage, from_version=row.version, to_version=None,
                     action=action, actor=actor, reason=reason, at=now)


def leave_all_stages(model: RegisteredModel, row: ModelVersion, *, action: str, actor: str,
                     reason: str | None, is_admin: bool, now: dt.datetime) -> list[str]:
    """Inside the caller's transaction, under the model's lock: `row` leaves every stage it
    holds (each left empty, with a history row). Returns those stages; raises Forbidden when
    one requires the admin role and `is_admin` is false, before anything changes."""
    held = [stage for (stage,) in StageHolder.select(StageHolder.stage)
            .where(StageHolder.version == row).order_by(StageHolder.stage).tuples()]
    for stage in held:
        check_stage_access(model.name, stage_rule(model, stage), is_admin=is_admin)
    for stage in held:
        _leave(model, row, stage, action=action, actor=actor, reason=reason, now=now)
    return held


def _production_after(model: RegisteredModel, stage: str, version: int) -> int | None:
    """Production's holder after a move of `stage` to `version`."""
    if stage == "production":
        return version
    holder = stage_holder(model, "production")
    return holder.version if holder else None
