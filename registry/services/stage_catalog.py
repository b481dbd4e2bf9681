"""A model's stages: the built-ins every model has (staging, production) and the ones its team
declared (canary, shadow, prod-eu...). Moves are in stages.py, holders in holders.py."""
from __future__ import annotations

import datetime as dt

from peewee import IntegrityError

from registry.db import fetch_prepared, write_transaction
from registry.domain import events
from registry.domain.errors import StageConflict, StageExists, UnknownStage
from registry.domain.stages import HELD_STAGES, StageRule, check_new_stage_name
from registry.models import ModelStage, ModelVersion, RegisteredModel, StageHolder
from registry.services.events import append_event
from registry.services.lookup import find_model
from registry.services.timefmt import rfc3339, utcnow


def stage_rule(model: RegisteredModel, name: str) -> StageRule:
    """Who may move stage `name` of `model` and its degraded policy; raises UnknownStage for a
    name that is neither built in nor declared."""
    if name in HELD_STAGES:
        return StageRule(name, requires_admin=name == "production"
                         and model.production_requires_admin, on_degraded=model.on_degraded)
    declared = ModelStage.get_or_none((ModelStage.model == model) & (ModelStage.name == name))
    if declared is None:
        raise UnknownStage(f"model '{model.name}' has no stage '{name}'; declare it with "
                           f"POST /api/v1/models/{model.name}/stages")
    return StageRule(name, requires_admin=declared.requires_admin,
                     on_degraded=declared.on_degraded or model.on_degraded)


def declared_names(model: RegisteredModel) -> list[str]:
    """The model's declared stages, by name."""
    return [name for (name,) in fetch_prepared("declared_stages", lambda param: (
        f"SELECT name FROM model_stage WHERE model_id = {param(1)} ORDER BY name"), (model.id,))]


def stage_names(model: RegisteredModel) -> list[str]:
    """Every stage of the model: production, staging, then the declared ones by name."""
    return ["production", "staging", *declared_names(model)]


def _builtin_view(model: RegisteredModel, name: str) -> dict:
    return {"name": name, "builtin": True, "description": "",
            "requires_admin": name == "production" and model.production_requires_admin,
            "on_degraded": model.on_degraded}


def _declared_view(row: ModelStage) -> dict:
    return {"name": row.name, "builtin": False, "description": row.description,
            "requires_admin": row.requires_admin, "on_degraded": row.on_degraded,
            "created_at": rfc3339(row.created_at)}


def list_stages(model_name: str) -> dict:
    """The model's stages (built-ins first) with their settings and holders; raises
    ModelNotFound."""
    model = find_model(model_name)
    declared = ModelStage.select().where(ModelStage.model == model).order_by(ModelStage.name)
    holders = {row.stage: {"version": row.version.version, "since": rfc3339(row.since)}
               for row in StageHolder.select(StageHolder, ModelVersion.version)
               .join(ModelVersion).where(StageHolder.model == model)}
    items = [_builtin_view(model, name) for name in ("production", "staging")]
    items += [_declared_view(row) for row in declared]
    return {"model": model.name,
            "items": [{**item, "holder": holders.get(item["name"])} for item in items]}


def declare_stage(model_name: str, name: str, *, actor: str, description: str = "",
                  requires_admin: bool = False, on_degraded: str | None = None,
                  now: dt.datetime | None = None) -> dict:
    """Declare stage `name` for a model: from then on it is promoted to, rolled back, looked up
    and evaluated like production, with at most one holder. The declaration and the event
    `stage.declared` commit together. Raises ModelNotFound, InvalidInput (malformed or reserved
    name), StageExists (the unique index decides between racing declarations)."""
    now = now or utcnow()
    try:
        with write_transaction():
            model = find_model(model_name, for_update=True)
            check_new_stage_name(name, declared_names(model))
            row = ModelStage.create(model=model, name=name, description=description,
                                    requires_admin=requires_admin, on_degraded=on_degraded,
                                    created_at=now)
            view = _declared_view(row) | {"holder": None}
            append_event(events.STAGE_DECLARED, actor=actor, model=model.name, now=now,
                         data={"stage": view})
    except IntegrityError:
        raise StageExists(f"stage '{name}' is already declared") from None
    return view


def remove_stage(model_name: str, name: str, *, actor: str,
                 now: dt.datetime | None = None) -> None:
    """Remove a declared stage; its history stays. Raises ModelNotFound, UnknownStage,
    StageConflict for a built-in or a stage a version holds."""
    now = now or utcnow()
    with write_transaction():
        model = find_model(model_name, for_update=True)
        if name in HELD_STAGES:
            raise StageConflict(f"{name} is built in and cannot be removed")
        stage_rule(model, name)
        holder = (StageHolder.select(ModelVersion.version).join(ModelVersion)
                  .where((StageHolder.model == model) & (StageHolder.stage == name)).scalar())
        if holder is not None:
            raise StageConflict(f"version {holder} holds {name}; archive it or roll the stage "
                                "back first", current_version=holder)
        ModelStage.delete().where((ModelStage.model == model) & (ModelStage.name == name)).execute()
        append_event(events.STAGE_REMOVED, actor=actor, model=model.name, now=now,
                     data={"stage": name})
