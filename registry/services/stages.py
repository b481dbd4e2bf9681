"""Stage moves: gated promotion, one-call rollback, the stage holder and its history.

Every move locks the model row first (FOR UPDATE on PostgreSQL, the IMMEDIATE write lock on
SQLite), so moves of one model serialise; the partial unique index keeps at most one holder per
stage whatever happens. A move's stage changes, history rows, evaluation and event commit as one.
"""
from __future__ import annotations

import datetime as dt
import urllib.parse
from dataclasses import dataclass

from peewee import fn

from registry.db import fetch_prepared, write_transaction
from registry.domain import stages as plan
from registry.domain.errors import CriteriaNotMet, Forbidden, InvalidInput, NotFound
from registry.domain.stages import HELD_STAGES
from registry.models import (ApiToken, ModelVersion, RegisteredModel, StageMove,
                             VersionFile)
from registry.services import idempotency, tokens
from registry.services.evaluations import evaluate_row, save_evaluation, stage_holder
from registry.services.events import append_event
from registry.services.lookup import find_model, find_version
from registry.services.pages import Page, newest_first
from registry.services.timefmt import rfc3339, utcnow
from registry.storage import ArtifactStore
from registry.domain import events


@dataclass(frozen=True)
class Precondition:
    """A compare-and-set on the stage holder: the body's `expected_current_version` (given
    even when null) and/or the `If-Match` ETags."""
    expect_given: bool = False
    expected: int | None = None
    if_match: list[str] | None = None


def _holding(row: ModelVersion) -> plan.Holding:
    return plan.Holding(version=row.version, status=row.status, stage=row.stage,
                        rolled_back=row.rolled_back)


def stage_revision(model: RegisteredModel, stage: str) -> int:
    """The id of the stage's newest history row: it grows with every change of holder."""
    newest = (StageMove.select(StageMove.id)
              .where((StageMove.model == model) & (StageMove.stage == stage))
              .order_by(StageMove.id.desc()).first())
    return newest.id if newest else 0


def _guard_production(model: RegisteredModel, stage: str, is_admin: bool) -> None:
    if stage == "production" and model.production_requires_admin and not is_admin:
        raise Forbidden(f"production moves of '{model.name}' need the admin role "
                        "(the model's production_requires_admin setting)", required_role="admin")


def _check(model: RegisteredModel, stage: str, holder: ModelVersion | None,
           precondition: Precondition) -> None:
    etag = plan.stage_etag(stage_revision(model, stage), holder.version, holder.stage_since) \
        if holder and precondition.if_match is not None else None
    plan.check_expected(stage, holder.version if holder else None,
                        expected=precondition.expected, expect_given=precondition.expect_given,
                        if_match=precondition.if_match, current_etag=etag)


MOVED_COLUMNS = [ModelVersion.stage, ModelVersion.stage_since, ModelVersion.updated_at,
                 ModelVersion.rolled_back]


def _enter(model: RegisteredModel, row: ModelVersion, stage: str, previous: ModelVersion | None,
           *, action: str, actor: str, reason: str | None, now: dt.datetime, forced: bool = False,
           evaluation_id: int | None = None) -> None:
    """Archive the stage's holder (`previous`, read under the model's lock), move `row` in, and
    write the history rows: one for `stage` and, when `row` leaves the other held stage, one
    for that."""
    if previous is not None:
        previous.stage, previous.stage_since, previous.updated_at = "archived", now, now
        previous.rolled_back = previous.rolled_back or action == "rollback"
        previous.save(only=MOVED_COLUMNS)
    if row.stage in HELD_STAGES:  # e.g. the staging holder promoted to production
        StageMove.create(model=model, stage=row.stage, from_version=row.version, to_version=None,
                         action=action, actor=actor, reason=reason or f"moved to {stage}", at=now)
    row.stage, row.stage_since, row.updated_at, row.rolled_back = stage, now, now, False
    row.save(only=MOVED_COLUMNS)
    StageMove.create(model=model, stage=stage, from_version=previous.version if previous else None,
                     to_version=row.version, action=action, actor=actor, reason=reason,
                     forced=forced, evaluation_id=evaluation_id, at=now)


def _production_version(model: RegisteredModel, stage: str, version: int) -> int | None:
    """Production's holder after a move of `stage` to `version`."""
    if stage == "production":
        return version
    holder = stage_holder(model, "production")
    return holder.version if holder else None


def promote(model_name: str, number: int, *, stage: str = "production", actor: str,
            reason: str | None = None, force: bool = False, dry_run: bool = False,
            precondition: Precondition = Precondition(), idempotency_key: str | None = None,
            idempotency_ttl_s: int = idempotency.DEFAULT_TTL_S, is_admin: bool,
            now: dt.datetime | None = None) -> tuple[dict, bool]:
    """Move a ready version into staging or production if it meets that stage's criteria.

    Under the model's lock: checks the precondition, evaluates the version (baseline: the
    production holder), then archives the previous holder and writes the move, its history
    row, the stored evaluation and the event `model.promoted` in one transaction. `force` (with
    a reason) overrides failed criteria and is recorded. `dry_run` answers the same without
    writing anything. Returns (answer, replayed). Raises ModelNotFound, VersionNotFound,
    StageConflict (not ready, already there), StaleVersion, CriteriaNotMet (with the
    evaluation), InvalidInput (force without reason), IdempotencyMismatch, Forbidden (`force`,
    or a model whose production needs admin, without `is_admin`).
    """
    if force and not is_admin:
        raise Forbidden("a forced promotion needs the admin role", required_role="admin")
    if force and not reason:
        raise InvalidInput("a forced promotion needs a reason", errors={"reason": ["required with force"]})
    now = now or utcnow()
    request = {"version": number, "stage": stage, "reason": reason, "force": force,
               "precondition": precondition.__dict__}
    with write_transaction():
        model = find_model(model_name, for_update=True)

        def move() -> dict:
            _guard_production(model, stage, is_admin)
            row = find_version(model, number)
            plan.check_promotable(_holding(row), stage)
            holder = stage_holder(model, stage)
            _check(model, stage, holder, precondition)
            evaluation = evaluate_row(model, row, stage, trigger="promote", actor=actor, now=now,
                                      store=False)  # a refused promotion stores nothing
            if not evaluation["passed"] and not force:
                raise CriteriaNotMet(f"version {number} does not meet the {stage} criteria: "
                                     + " ".join(r["message"] for r in evaluation["results"]
                                                if not r["passed"]), evaluation=evaluation)
            answer = {"model": model.name, "stage": stage, "version": number,
                      "previous_version": holder.version if holder else None,
                      "evaluation": evaluation, "forced": force, "reason": reason}
            if dry_run:
                return {**answer, "event_seq": None, "dry_run": True}
            save_evaluation(row, evaluation, now=now)
            _enter(model, row, stage, holder, action="promote", actor=actor, reason=reason,
                   now=now, forced=force, evaluation_id=evaluation["id"])
            event = append_event(events.MODEL_PROMOTED, actor=actor, model=model.name, version=number,
                                 now=now, data={"stage": stage, "version": number,
                                                "previous_version": answer["previous_version"],
                                                "forced": force, "reason": reason,
                                                "evaluation_id": evaluation["id"],
                                                "production_version": _production_version(model, stage,
                                                                                      number)})
            return {**answer, "event_seq": event.seq}

        return _run(move, f"{actor}:promote:{model.name}", request, dry_run=dry_run,
                    key=idempotency_key, ttl_s=idempotency_ttl_s, now=now)


def _run(move, scope: str, request: dict, *, dry_run: bool, key: str | None, ttl_s: int,
         now: dt.datetime) -> tuple[dict, bool]:
    """Run a move under the lock already held; a dry run is never remembered for its key."""
    if dry_run:
        return move(), False
    return idempotency.run_once(scope, key, request, move, ttl_s=ttl_s, now=now)


def _earlier_holders(model: RegisteredModel, stage: str) -> list[ModelVersion]:
    """Versions that held `stage`, most recent holding first, each once; only the columns a
    rollback plan reads (a long-lived model has many)."""
    held = (StageMove.select(StageMove.to_version, fn.MAX(StageMove.id).alias("last_held"))
            .where((StageMove.model == model) & (StageMove.stage == stage)
                   & StageMove.to_version.is_null(False))
            .group_by(StageMove.to_version))
    return list(ModelVersion.select(ModelVersion.id, ModelVersion.version, ModelVersion.status,
                                    ModelVersion.stage, ModelVersion.rolled_back)
                .join(held, on=(ModelVersion.version == held.c.to_version))
                .where(ModelVersion.model == model)
                .order_by(held.c.last_held.desc()))


def files_intact(row: ModelVersion, store: ArtifactStore) -> bool:
    """The quick integrity check: every file is in the store with its recorded size."""
    return all(store.size(sha256) == size for sha256, size in
               VersionFile.select(VersionFile.sha256, VersionFile.size)
               .where(VersionFile.version == row).tuples())


def _precheck_files(model_name: str, stage: str, to_version: int | None,
                    store: ArtifactStore) -> dict[int, bool]:
    """Integrity of the likely targets, read before the transaction because the store may be
    across the network: version -> files intact, in candidate order up to the first intact one."""
    model = find_model(model_name)
    if to_version is not None:
        row = ModelVersion.get_or_none((ModelVersion.model == model)
                                       & (ModelVersion.version == to_version))
        return {to_version: files_intact(row, store)} if row else {}
    checked: dict[int, bool] = {}
    for row in _earlier_holders(model, stage):
        if row.stage != stage and row.status == "ready" and not row.rolled_back:
            checked[row.version] = files_intact(row, store)
            if checked[row.version]:
                break
    return checked


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
    that prompted an automatic rollback in the history row. Raises ModelNotFound, VersionNotFound,
    NoRollbackTarget / Conflict (409, with why), StaleVersion, IdempotencyMismatch, Forbidden.
    """
    now = now or utcnow()
    checked = _precheck_files(model_name, stage, to_version, store)
    request = {"stage": stage, "to_version": to_version, "reason": reason,
               "precondition": precondition.__dict__}
    with write_transaction():
        model = find_model(model_name, for_update=True)

        def move() -> dict:
            _guard_production(model, stage, is_admin)
            current = stage_holder(model, stage)
            _check(model, stage, current, precondition)
            holders = {row.version: row for row in _earlier_holders(model, stage)}
            explicit = find_version(model, to_version) if to_version is not None else None

            def intact(number: int) -> bool:
                if number not in checked:  # the state moved since the pre-check: rare
                    checked[number] = files_intact(holders.get(number) or explicit, store)
                return checked[number]

            target = plan.plan_rollback(
                stage, _holding(current) if current else None,
                [_holding(row) for row in holders.values()], files_intact=intact,
                to_version=_holding(explicit) if explicit else None,
                to_version_held=to_version in holders)
            answer = {"model": model.name, "stage": stage, "version": target.version,
                      "rolled_back_version": current.version, "reason": reason}
            if dry_run:
                return {**answer, "event_seq": None, "dry_run": True}
            _enter(model, explicit or holders[target.version], stage, current, action="rollback",
                   actor=actor, reason=reason, now=now, evaluation_id=evaluation_id)
            event = append_event(events.MODEL_ROLLED_BACK, actor=actor, model=model.name,
                                 version=target.version, now=now,
                                 data={"stage": stage, "version": target.version,
                                       "rolled_back_version": current.version, "reason": reason,
                                       "production_version": _production_version(
                                           model, stage, target.version)})
            return {**answer, "event_seq": event.seq}

        return _run(move, f"{actor}:rollback:{model.name}", request, dry_run=dry_run,
                    key=idempotency_key, ttl_s=idempotency_ttl_s, now=now)


def _file_url(model_name: str, number: int, path: str) -> str:
    return (f"/api/v1/models/{urllib.parse.quote(model_name)}/versions/{number}/files/"
            f"{urllib.parse.quote(path)}")


HOLDER_SQL = """
SELECT v.version, v.stage_since,
       (SELECT MAX(s.id) FROM stage_move s WHERE s.model_id = m.id AND s.stage = '{stage}'),
       f.path, f.size, f.sha256
FROM registered_model m
JOIN model_version v ON v.model_id = m.id AND v.stage = '{stage}'
LEFT JOIN version_file f ON f.version_id = v.id
WHERE m.name = %s
ORDER BY f.path"""


def _holder_view(model_name: str, stage: str, rows: list[tuple]) -> dict:
    """The view from HOLDER_SQL's rows: (version, since, revision, path, size, sha256)..."""
    number, since_us, revision = rows[0][:3]
    since = ModelVersion.stage_since.python_value(since_us)
    files = [{"path": path, "size": size, "sha256": sha256,
              "url": _file_url(model_name, number, path)}
             for *_, path, size, sha256 in rows if path is not None]
    return {"model": model_name, "stage": stage, "version": number, "since": rfc3339(since),
            "revision": revision, "files": files,
            "etag": plan.stage_etag(revision, number, since)}


def stage_view(model_name: str, stage: str) -> dict:
    """The stage's holder with its files, `since`, `revision` and `etag`, read from committed
    state (never a cache), so any process sees a move as soon as it returned. One hand-written
    query: this is the look-up every deployment system polls. Raises ModelNotFound, NotFound
    when no version holds the stage."""
    if stage not in HELD_STAGES:  # the stage is spliced into the SQL so the partial index applies
        raise NotFound(f"stage '{stage}' has no single holder")
    rows = fetch_prepared(f"stage_holder_{stage}", HOLDER_SQL.format(stage=stage), (model_name,))
    if not rows:
        find_model(model_name)
        raise NotFound(f"no version of '{model_name}' is in {stage}")
    return _holder_view(model_name, stage, rows)


TOKEN_HOLDER_SQL = """
SELECT v.version, v.stage_since,
       (SELECT MAX(s.id) FROM stage_move s WHERE s.model_id = m.id AND s.stage = '{stage}'),
       f.path, f.size, f.sha256
FROM api_token t
JOIN registered_model m ON m.name = %s
JOIN model_version v ON v.model_id = m.id AND v.stage = '{stage}'
LEFT JOIN version_file f ON f.version_id = v.id
WHERE t.token_hash = %s AND t.revoked_at IS NULL AND t.last_used_at >= %s
ORDER BY f.path"""


def stage_view_for_token(model_name: str, stage: str, token: str,
                         *, now: dt.datetime | None = None) -> dict | None:
    """stage_view in one round trip with the caller's token checked in the same query: the
    view when `token` is live (any role may read) and was seen within the last minute, and the
    stage has a holder. None otherwise; the caller then takes the full path, which refreshes
    the token's `last_used_at` and gives the documented errors."""
    if stage not in HELD_STAGES:
        return None
    seen_since = (now or utcnow()) - tokens.LAST_USED_EVERY
    rows = fetch_prepared(f"token_stage_holder_{stage}", TOKEN_HOLDER_SQL.format(stage=stage),
                          (model_name, tokens.digest(token),
                           ApiToken.last_used_at.db_value(seen_since)))
    return _holder_view(model_name, stage, rows) if rows else None


def _move_view(move: StageMove) -> dict:
    return {"seq": move.id, "at": rfc3339(move.at), "stage": move.stage,
            "from_version": move.from_version, "to_version": move.to_version,
            "action": move.action, "actor": move.actor, "reason": move.reason,
            "forced": move.forced, "evaluation_id": move.evaluation_id}


def stage_history(model_name: str, *, stage: str | None = None, limit: int = 50,
                  cursor: str | None = None) -> Page:
    """Every change of a stage's holder, newest first; raises ModelNotFound, InvalidInput."""
    model = find_model(model_name)
    query = StageMove.select().where(StageMove.model == model)
    if stage:
        query = query.where(StageMove.stage == stage)
    moves, next_cursor = newest_first(query, StageMove.id, limit=limit, cursor=cursor)
    return Page([_move_view(move) for move in moves], next_cursor)


def holder_at(model_name: str, stage: str, at: dt.datetime) -> dict:
    """Which version held `stage` at instant `at` (None when none did); `items` holds the move
    in force then (empty before the first). Raises ModelNotFound."""
    model = find_model(model_name)
    move = (StageMove.select().where((StageMove.model == model) & (StageMove.stage == stage)
                                     & (StageMove.at <= at))
            .order_by(StageMove.at.desc(), StageMove.id.desc()).first())
    return {"model": model.name, "stage": stage, "at": rfc3339(at),
            "version": move.to_version if move else None,
            "since": rfc3339(move.at) if move and move.to_version is not None else None,
            "items": [_move_view(move)] if move else [], "next_cursor": None}
