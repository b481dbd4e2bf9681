"""Acceptance criteria per model and stage: config defaults, per-model revisions, history."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from registry.db import select_prepared, write_transaction
from registry.domain import events
from registry.domain.criteria import CRITERIA_STAGES, validate_criteria
from registry.models import CriteriaRevision, RegisteredModel
from registry.services.events import append_event
from registry.services.lookup import find_model
from registry.services.pages import Page, newest_first
from registry.services.stage_catalog import declared_names, stage_names
from registry.services.timefmt import rfc3339, utcnow

_defaults: dict[str, list[dict]] = {}


class DefaultsNotInstalled(RuntimeError):
    """Criteria were read before start-up installed the config's defaults: fail closed rather
    than gate promotions with no rules."""


def use_defaults(config_criteria: dict[str, list[dict]]) -> None:
    """Install the config's default rules (already validated by registry.config); done by
    registry.startup.open_registry for every entry point."""
    _defaults.update({stage: list(config_criteria.get(stage, [])) for stage in CRITERIA_STAGES})


def _default_rules(stage: str) -> list[dict]:
    if stage not in _defaults:
        raise DefaultsNotInstalled("the config's default criteria were never installed: open the "
                                   "registry with registry.startup.open_registry(config)")
    return _defaults[stage]


@dataclass(frozen=True)
class Criteria:
    """The rules in force for one model."""
    stages: dict[str, list[dict]]
    inherited: list[str]  # stages that follow the config defaults
    revision: int | None  # None: the model never set its own
    actor: str | None = None
    at: dt.datetime | None = None

    def view(self, model_name: str) -> dict:
        return {"model": model_name, "revision": self.revision, "stages": self.stages,
                "inherited": self.inherited, "updated_by": self.actor,
                "updated_at": rfc3339(self.at)}


def _newest(model: RegisteredModel) -> CriteriaRevision | None:
    newest = select_prepared("newest_criteria", CriteriaRevision, lambda param: (
        f"WHERE model_id = {param(1)} ORDER BY revision DESC LIMIT 1"), (model.id,))
    return newest[0] if newest else None


def _default_or_none(stage: str) -> list[dict]:
    return _default_rules(stage) if stage in CRITERIA_STAGES else []


def criteria_for(model: RegisteredModel) -> Criteria:
    """The model's own rules where it set them, the config defaults elsewhere (none for a
    declared stage: the config's defaults are for the built-ins)."""
    newest = _newest(model)
    own = newest.stages if newest else {}
    stages = [*CRITERIA_STAGES, *declared_names(model)]
    return Criteria(stages={stage: own[stage] if stage in own else _default_or_none(stage)
                            for stage in stages},
                    inherited=[stage for stage in stages if stage not in own],
                    revision=newest.revision if newest else None,
                    actor=newest.actor if newest else None,
                    at=newest.created_at if newest else None)


def get_criteria(model_name: str) -> dict:
    """The criteria in force for a model; raises ModelNotFound."""
    return criteria_for(find_model(model_name)).view(model_name)


def set_criteria(model_name: str, stages: dict, *, actor: str,
                 now: dt.datetime | None = None) -> dict:
    """Replace a model's criteria with a new revision; stages left out follow the config defaults.

    Any stage of the model takes rules, and compare rules may name any of its stages. The
    previous revisions stay as history. One transaction writes the revision and the event
    `criteria.updated`. Raises ModelNotFound, InvalidInput naming the first bad rule.
    """
    now = now or utcnow()
    with write_transaction():
        model = find_model(model_name, for_update=True)
        rules = validate_criteria(stages, known=stage_names(model))
        newest = _newest(model)
        revision = (newest.revision if newest else 0) + 1
        CriteriaRevision.create(model=model, revision=revision, stages=rules, actor=actor,
                                created_at=now)
        view = criteria_for(model).view(model.name)
        append_event(events.CRITERIA_UPDATED, actor=actor, model=model.name, now=now,
                     data={"revision": revision, "stages": view["stages"],
                           "inherited": view["inherited"],
                           "before": {"revision": newest.revision if newest else None,
                                      "stages": newest.stages if newest else None}})
    return view


def criteria_history(model_name: str, *, limit: int, cursor: str | None = None) -> Page:
    """Every revision of a model's criteria, newest first; raises ModelNotFound, InvalidInput."""
    model = find_model(model_name)
    query = CriteriaRevision.select().where(CriteriaRevision.model == model)
    rows, next_cursor = newest_first(query, CriteriaRevision.revision, limit=limit, cursor=cursor,
                                     name="revision")
    return Page([{"revision": row.revision, "stages": row.stages, "updated_by": row.actor,
                  "updated_at": rfc3339(row.created_at)} for row in rows], next_cursor)
