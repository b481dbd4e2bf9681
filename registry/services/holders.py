"""Stage holders as readers see them: the holder of a stage with its files (the look-up
deployment systems poll), the stages versions hold, a stage's history, and which version held
it at an instant. Reads only; moves are in stages.py."""
from __future__ import annotations

import datetime as dt
import urllib.parse
from functools import partial

from peewee import fn

from registry.db import Placeholder, fetch_prepared
from registry.domain.errors import NotFound
from registry.domain.stages import stage_etag
from registry.models import ApiToken, ModelVersion, RegisteredModel, StageHolder, StageMove
from registry.services import tokens
from registry.services.lookup import find_model
from registry.services.stage_catalog import stage_rule
from registry.services.pages import Page, newest_first
from registry.services.timefmt import rfc3339, utcnow


def stage_holder(model: RegisteredModel, stage: str) -> ModelVersion | None:
    """The version holding `stage` now, with `held_since` (when it took the stage); None when
    the stage is empty."""
    return (ModelVersion.select(ModelVersion, StageHolder.since.alias("held_since"))
            .join(StageHolder, on=(StageHolder.version == ModelVersion.id))
            .where((StageHolder.model == model) & (StageHolder.stage == stage)).objects().first())


def stage_order(name: str) -> tuple:
    """Production, staging, then declared stages by name: the order every list uses."""
    return ({"production": 0, "staging": 1}.get(name, 2), name)


def holders_of(model_ids: list[int]) -> dict[tuple[int, str], ModelVersion]:
    """(model id, stage) -> the holding version (with `held_since`), for every held stage."""
    if not model_ids:
        return {}
    rows = (ModelVersion.select(ModelVersion, StageHolder.stage.alias("held_stage"),
                                StageHolder.since.alias("held_since"))
            .join(StageHolder, on=(StageHolder.version == ModelVersion.id))
            .where(StageHolder.model.in_(model_ids)).objects())
    return {(row.model_id, row.held_stage): row for row in rows}


def stage_revision(model: RegisteredModel, stage: str) -> int:
    """The id of the stage's newest history row: it grows with every change of holder."""
    newest = (StageMove.select(StageMove.id)
              .where((StageMove.model == model) & (StageMove.stage == stage))
              .order_by(StageMove.id.desc()).first())
    return newest.id if newest else 0


def _file_url(model_name: str, number: int, path: str) -> str:
    return (f"/api/v1/models/{urllib.parse.quote(model_name)}/versions/{number}/files/"
            f"{urllib.parse.quote(path)}")


def holder_sql(param: Placeholder, *, with_token: bool) -> str:
    """The look-up's one query: the holder of the stage named by the second parameter of the
    model named by the first, one row per file. `with_token` also requires a live token (the
    third parameter) seen since the fourth, in the same round trip."""
    if with_token:
        source = f"FROM api_token t JOIN registered_model m ON m.name = {param(1)}"
        holder = f"h.model_id = m.id AND h.stage = {param(2)}"
        where = (f"WHERE {tokens.live_token_condition(param(3), 't.')} AND t.last_used_at >= "
                 f"{param(4)}")
    else:
        source, where = "FROM registered_model m", ""
        holder = f"h.model_id = m.id AND m.name = {param(1)} AND h.stage = {param(2)}"
    return f"""
SELECT v.version, h.since,
       (SELECT MAX(s.id) FROM stage_move s WHERE s.model_id = m.id AND s.stage = h.stage),
       f.path, f.size, f.sha256
{source}
JOIN stage_holder h ON {holder}
JOIN model_version v ON v.id = h.version_id
LEFT JOIN version_file f ON f.version_id = v.id
{where}
ORDER BY f.path"""


def _holder_view(model_name: str, stage: str, rows: list[tuple]) -> dict:
    """The view from holder_sql's rows: (version, since, revision, path, size, sha256)..."""
    number, since_us, revision = rows[0][:3]
    since = StageHolder.since.python_value(since_us)
    files = [{"path": path, "size": size, "sha256": sha256,
              "url": _file_url(model_name, number, path)}
             for *_, path, size, sha256 in rows if path is not None]
    return {"model": model_name, "stage": stage, "version": number, "since": rfc3339(since),
            "revision": revision, "files": files,
            "etag": stage_etag(revision, number, since)}


def stage_view(model_name: str, stage: str) -> dict:
    """The stage's holder with its files, `since`, `revision` and `etag`, read from committed
    state (never a cache), so any process sees a move as soon as it returned. One hand-written
    query: this is the look-up every deployment system polls. Raises ModelNotFound,
    UnknownStage for a stage the model never declared, NotFound when no version holds it."""
    rows = fetch_prepared("stage_holder", partial(holder_sql, with_token=False),
                          (model_name, stage))
    if not rows:
        stage_rule(find_model(model_name), stage)
        raise NotFound(f"no version of '{model_name}' is in {stage}")
    return _holder_view(model_name, stage, rows)


def stage_view_for_token(model_name: str, stage: str, token: str,
                         *, now: dt.datetime | None = None) -> dict | None:
    """stage_view in one round trip with the caller's token checked in the same query: the
    view when `token` is live (any role may read) and was seen within the last minute, and the
    stage has a holder. None otherwise; the caller then takes the full path, which refreshes
    the token's `last_used_at` and gives the documented errors."""
    seen_since = (now or utcnow()) - tokens.LAST_USED_EVERY
    rows = fetch_prepared("token_stage_holder", partial(holder_sql, with_token=True),
                          (model_name, stage, tokens.digest(token),
                           ApiToken.last_used_at.db_value(seen_since)))
    return _holder_view(model_name, stage, rows) if rows else None


def _move_view(move: StageMove) -> dict:
    return {"seq": move.id, "at": rfc3339(move.at), "stage": move.stage,
            "from_version": move.from_version, "to_version": move.to_version,
            "action": move.action, "actor": move.actor, "reason": move.reason,
            "forced": move.forced, "evaluation_id": move.evaluation_id,
            "converged_at": rfc3339(move.converged_at),
            "converged_s": round((move.converged_at - move.at).total_seconds(), 3)
            if move.converged_at else None}


def stage_history(model_name: str, *, stage: str | None = None, limit: int = 50,
                  cursor: str | None = None) -> Page:
    """Every change of a stage's holder, newest first; raises ModelNotFound, UnknownStage,
    InvalidInput."""
    model = find_model(model_name)
    query = StageMove.select().where(StageMove.model == model)
    if stage:
        stage_rule(model, stage)
        query = query.where(StageMove.stage == stage)
    moves, next_cursor = newest_first(query, StageMove.id, limit=limit, cursor=cursor)
    return Page([_move_view(move) for move in moves], next_cursor)


def version_moves(model_name: str, number: int) -> list[dict]:
    """Every move into or out of any stage by this version, oldest first: which stages it held,
    and when. Raises ModelNotFound."""
    model = find_model(model_name)
    moves = (StageMove.select().where((StageMove.model == model) & (
        (StageMove.to_version == number) | (StageMove.from_version == number)))
        .order_by(StageMove.id))
    return [_move_view(move) for move in moves]


def holder_at(model_name: str, stage: str, at: dt.datetime) -> dict:
    """Which version held `stage` at instant `at` (None when none did); `items` holds the move
    in force then (empty before the first). Raises ModelNotFound, UnknownStage."""
    model = find_model(model_name)
    stage_rule(model, stage)
    move = (StageMove.select().where((StageMove.model == model) & (StageMove.stage == stage)
                                     & (StageMove.at <= at))
            .order_by(StageMove.at.desc(), StageMove.id.desc()).first())
    return {"model": model.name, "stage": stage, "at": rfc3339(at),
            "version": move.to_version if move else None,
            "since": rfc3339(move.at) if move and move.to_version is not None else None,
            "items": [_move_view(move)] if move else [], "next_cursor": None}


RECENT_MOVES = 256  # a rollback's target is almost always among the stage's newest moves
HOLDING_COLUMNS = (ModelVersion.id, ModelVersion.version, ModelVersion.status, ModelVersion.stage,
                   ModelVersion.rolled_back)


def earlier_holders(model: RegisteredModel, stage: str, *,
                    recent: int | None = None) -> list[ModelVersion]:
    """Versions that held `stage`, most recent holding first, each once; only the columns a
    rollback plan reads. With `recent`, only the holders of the newest `recent` moves: an
    index walk that stays short however long the stage's history is."""
    if recent:
        newest = (StageMove.select(StageMove.to_version)
                  .where((StageMove.model == model) & (StageMove.stage == stage)
                         & StageMove.to_version.is_null(False))
                  .order_by(StageMove.id.desc()).limit(recent))
        order = list(dict.fromkeys(version for (version,) in newest.tuples()))
        found = {row.version: row for row in ModelVersion.select(*HOLDING_COLUMNS).where(
            (ModelVersion.model == model) & ModelVersion.version.in_(order))} if order else {}
        return [found[version] for version in order if version in found]
    held = (StageMove.select(StageMove.to_version, fn.MAX(StageMove.id).alias("last_held"))
            .where((StageMove.model == model) & (StageMove.stage == stage)
                   & StageMove.to_version.is_null(False))
            .group_by(StageMove.to_version))
    return list(ModelVersion.select(*HOLDING_COLUMNS)
                .join(held, on=(ModelVersion.version == held.c.to_version))
                .where(ModelVersion.model == model)
                .order_by(held.c.last_held.desc()))


def ever_held(model: RegisteredModel, stage: str, number: int) -> bool:
    """Whether the version held `stage` at any time."""
    return StageMove.select().where((StageMove.model == model) & (StageMove.stage == stage)
                                    & (StageMove.to_version == number)).exists()
