"""The fleet at a glance, for the console's first page: every model with who holds each of its
stages, since when and by whom, production's status from its newest evaluation, and the last
move. A fixed number of queries whatever the number of models."""
from __future__ import annotations

from collections import defaultdict

from peewee import fn

from registry.models import Evaluation, RegisteredModel, StageHolder, StageMove
from registry.services.models import list_models
from registry.services.pages import Page
from registry.services.timefmt import rfc3339

def _newest_moves(model_ids: list[int]) -> dict[tuple[int, str], StageMove]:
    """(model id, stage) -> the stage's newest move: the one that put its holder there."""
    newest = (StageMove.select(fn.MAX(StageMove.id)).where(StageMove.model.in_(model_ids))
              .group_by(StageMove.model, StageMove.stage))
    return {(move.model_id, move.stage): move
            for move in StageMove.select().where(StageMove.id.in_(newest))}


def _production_statuses(model_ids: list[int]) -> dict[int, str]:
    """model id -> passing | degraded | failing | not_evaluated, read from the production
    holder's stored production evaluations: the newest decides pass; a failing holder that
    passed since it took production is degraded."""
    production = {model_id: (version_id, since) for model_id, version_id, since in
                  StageHolder.select(StageHolder.model, StageHolder.version, StageHolder.since)
                  .where(StageHolder.model.in_(model_ids)
                         & (StageHolder.stage == "production")).tuples()}
    ids = [version_id for version_id, _ in production.values()]
    if not ids:
        return {}
    newest = (Evaluation.select(fn.MAX(Evaluation.id))
              .where(Evaluation.version.in_(ids) & (Evaluation.stage == "production"))
              .group_by(Evaluation.version))
    passed_now = dict(Evaluation.select(Evaluation.version, Evaluation.passed)
                      .where(Evaluation.id.in_(newest)).tuples())
    last_pass = dict(Evaluation.select(Evaluation.version, fn.MAX(Evaluation.evaluated_at))
                     .where(Evaluation.version.in_(ids) & (Evaluation.stage == "production")
                            & Evaluation.passed).group_by(Evaluation.version).tuples())
    statuses = {}
    for model_id, (version_id, since) in production.items():
        passed_at = last_pass.get(version_id)
        if version_id not in passed_now:
            statuses[model_id] = "not_evaluated"
        elif passed_now[version_id]:
            statuses[model_id] = "passing"
        else:
            statuses[model_id] = "degraded" if passed_at and passed_at >= since else "failing"
    return statuses


def _move_view(move: StageMove | None) -> dict | None:
    if move is None:
        return None
    return {"at": rfc3339(move.at), "stage": move.stage, "action": move.action,
            "actor": move.actor, "from_version": move.from_version,
            "to_version": move.to_version, "reason": move.reason}


def fleet(*, q: str | None = None, tags: dict[str, str] | None = None, limit: int = 1000,
          cursor: str | None = None) -> Page:
    """Models by name (filtered like list_models) with `status` (passing, degraded, failing,
    not_evaluated or no_production), `holders` (every
    held stage in stage order with version, since, and the move that put it there) and
    `last_move`. Raises InvalidInput for a bad cursor."""
    page = list_models(q=q, tags=tags, limit=limit, cursor=cursor)
    names = [view["name"] for view in page.items]
    ids = dict(RegisteredModel.select(RegisteredModel.name, RegisteredModel.id)
               .where(RegisteredModel.name.in_(names)).tuples()) if names else {}
    moves = _newest_moves(list(ids.values())) if ids else {}
    statuses = _production_statuses(list(ids.values())) if ids else {}
    own_moves = defaultdict(list)
    for (model_id, _), move in moves.items():
        own_moves[model_id].append(move)
    items = []
    for view in page.items:
        model_id = ids[view["name"]]
        items.append({
            "name": view["name"], "description": view["description"], "tags": view["tags"],
            "latest_version": view["latest_version"],
            "status": statuses.get(model_id, "no_production"),
            "holders": [{"stage": stage, "version": holder["version"], "since": holder["since"],
                         "moved_in": _move_view(moves.get((model_id, stage)))}
                        for stage, holder in view["stages"].items()],
            "last_move": _move_view(max(own_moves[model_id], key=lambda m: m.id, default=None))})
    return Page(items, page.next_cursor)
