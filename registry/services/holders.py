"""Stage holders as readers see them: the holder of a stage with its files (the look-up
deployment systems poll), a stage's history, and which version held it at an instant. Reads
only; moves are in stages.py."""
from __future__ import annotations

import datetime as dt
import urllib.parse
from functools import partial

from registry.db import Placeholder, fetch_prepared
from registry.domain.errors import NotFound
from registry.domain.stages import HELD_STAGES, stage_etag
from registry.models import ApiToken, ModelVersion, RegisteredModel, StageMove
from registry.services import tokens
from registry.services.lookup import find_model
from registry.services.pages import Page, newest_first
from registry.services.timefmt import rfc3339, utcnow


def stage_revision(model: RegisteredModel, stage: str) -> int:
    """The id of the stage's newest history row: it grows with every change of holder."""
    newest = (StageMove.select(StageMove.id)
              .where((StageMove.model == model) & (StageMove.stage == stage))
              .order_by(StageMove.id.desc()).first())
    return newest.id if newest else 0


def _file_url(model_name: str, number: int, path: str) -> str:
    return (f"/api/v1/models/{urllib.parse.quote(model_name)}/versions/{number}/files/"
            f"{urllib.parse.quote(path)}")


def holder_sql(stage: str, param: Placeholder, *, with_token: bool) -> str:
    """The look-up's one query: the holder of `stage` of the model named by the first parameter,
    one row per file. `with_token` also requires a live token (the second parameter) seen since
    the third, in the same round trip. `stage` is spliced in so the partial index applies."""
    source = (f"FROM api_token t JOIN registered_model m ON m.name = {param(1)}" if with_token
              else "FROM registered_model m")
    where = (f"WHERE {tokens.live_token_condition(param(2), 't.')} AND t.last_used_at >= "
             f"{param(3)}" if with_token else f"WHERE m.name = {param(1)}")
    return f"""
SELECT v.version, v.stage_since,
       (SELECT MAX(s.id) FROM stage_move s WHERE s.model_id = m.id AND s.stage = '{stage}'),
       f.path, f.size, f.sha256
{source}
JOIN model_version v ON v.model_id = m.id AND v.stage = '{stage}'
LEFT JOIN version_file f ON f.version_id = v.id
{where}
ORDER BY f.path"""


def _holder_view(model_name: str, stage: str, rows: list[tuple]) -> dict:
    """The view from holder_sql's rows: (version, since, revision, path, size, sha256)..."""
    number, since_us, revision = rows[0][:3]
    since = ModelVersion.stage_since.python_value(since_us)
    files = [{"path": path, "size": size, "sha256": sha256,
              "url": _file_url(model_name, number, path)}
             for *_, path, size, sha256 in rows if path is not None]
    return {"model": model_name, "stage": stage, "version": number, "since": rfc3339(since),
            "revision": revision, "files": files,
            "etag": stage_etag(revision, number, since)}


def stage_view(model_name: str, stage: str) -> dict:
    """The stage's holder with its files, `since`, `revision` and `etag`, read from committed
    state (never a cache), so any process sees a move as soon as it returned. One hand-written
    query: this is the look-up every deployment system polls. Raises ModelNotFound, NotFound
    when no version holds the stage."""
    if stage not in HELD_STAGES:  # the stage is spliced into the SQL so the partial index applies
        raise NotFound(f"stage '{stage}' has no single holder")
    rows = fetch_prepared(f"stage_holder_{stage}", partial(holder_sql, stage, with_token=False),
                          (model_name,))
    if not rows:
        find_model(model_name)
        raise NotFound(f"no version of '{model_name}' is in {stage}")
    return _holder_view(model_name, stage, rows)


def stage_view_for_token(model_name: str, stage: str, token: str,
                         *, now: dt.datetime | None = None) -> dict | None:
    """stage_view in one round trip with the caller's token checked in the same query: the
    view when `token` is live (any role may read) and was seen within the last minute, and the
    stage has a holder. None otherwise; the caller then takes the full path, which refreshes
    the token's `last_used_at` and gives the documented errors."""
    if stage not in HELD_STAGES:
        return None
    seen_since = (now or utcnow()) - tokens.LAST_USED_EVERY
    rows = fetch_prepared(f"token_stage_holder_{stage}",
                          partial(holder_sql, stage, with_token=True),
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
