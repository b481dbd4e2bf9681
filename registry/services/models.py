"""Registered models: create, read, list, update, delete."""
from __future__ import annotations

import datetime as dt

from peewee import IntegrityError

from registry.db import write_transaction
from registry.domain import events
from registry.domain.approvals import merged_policy, validate_policy
from registry.domain.errors import Forbidden, ModelExists, StageConflict
from registry.models import ModelTag, ModelVersion, RegisteredModel, StageHolder
from registry.services.events import append_event
from registry.services.holders import holders_of, stage_order
from registry.services.lookup import find_model
from registry.services.pages import Page, decode_cursor, encode_cursor
from registry.services.stage_catalog import stage_names
from registry.services.tags import load_tags, patch_tags
from registry.services.timefmt import rfc3339, utcnow


def holder_summary(row: ModelVersion | None) -> dict | None:
    """A stage's holder as holders_of read it: `since` is when it took that stage."""
    if row is None:
        return None
    return {"version": row.version, "status": row.status, "stage": row.stage,
            "stage_since": rfc3339(row.stage_since), "since": rfc3339(row.held_since),
            "created_at": rfc3339(row.created_at)}


def model_views(models: list[RegisteredModel]) -> list[dict]:
    """JSON views of models with tags and stage holders, in three queries whatever the count."""
    ids = [model.id for model in models]
    tags, holders = load_tags(ModelTag, ids), holders_of(ids)
    held = {model_id: {} for model_id in ids}
    for (model_id, stage), row in sorted(holders.items(), key=lambda item: stage_order(item[0][1])):
        held[model_id][stage] = holder_summary(row)
    return [{
        "name": model.name,
        "description": model.description,
        "tags": tags.get(model.id, {}),
        "latest_version": model.last_version or None,
        "production": holder_summary(holders.get((model.id, "production"))),
        "staging": holder_summary(holders.get((model.id, "staging"))),
        "stages": held[model.id],
        "production_requires_admin": model.production_requires_admin,
        "on_degraded": model.on_degraded,
        "approvals": model.approvals or {},
        "on_alert": model.on_alert or "notify",
        "created_at": rfc3339(model.created_at),
        "updated_at": rfc3339(model.updated_at),
    } for model in models]


def create_model(name: str, *, actor: str, description: str = "", tags: dict | None = None,
                 now: dt.datetime | None = None) -> dict:
    """Create a model; raises ModelExists when the name is taken (the unique index decides)."""
    now = now or utcnow()
    try:
        with write_transaction():
            model = RegisteredModel.create(name=name, description=description, created_at=now,
                                           updated_at=now)
            patch_tags(ModelTag, model, tags or {})
            view = model_views([model])[0]
            append_event(events.MODEL_CREATED,
                         actor=actor, model=name, data={"model": view}, now=now)
    except IntegrityError:
        raise ModelExists(f"model '{name}' already exists") from None
    return view


def get_model(name: str) -> dict:
    """The model with its stage holders; raises ModelNotFound."""
    return model_views([find_model(name)])[0]


def list_models(*, q: str | None = None, tags: dict[str, str] | None = None,
                stage: str | None = None, limit: int = 50, cursor: str | None = None) -> Page:
    """Models by name, filtered by name substring, tags (all must match) and held stage (built-in
    or declared; `archived` and `none`: a version with that label)."""
    query = RegisteredModel.select()
    if q:
        query = query.where(RegisteredModel.name.contains(q))
    for key, value in (tags or {}).items():
        query = query.where(RegisteredModel.id.in_(
            ModelTag.select(ModelTag.model).where((ModelTag.key == key) & (ModelTag.value == value))))
    if stage in ("archived", "none"):
        query = query.where(RegisteredModel.id.in_(
            ModelVersion.select(ModelVersion.model).where(ModelVersion.stage == stage)))
    elif stage:
        query = query.where(RegisteredModel.id.in_(
            StageHolder.select(StageHolder.model).where(StageHolder.stage == stage)))
    if cursor:
        query = query.where(RegisteredModel.name > decode_cursor(cursor, name="text")["name"])
    rows = list(query.order_by(RegisteredModel.name).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor({"name": rows[-1].name}) if more else None
    return Page(model_views(rows), next_cursor)


def update_model(name: str, *, actor: str, description: str | None = None,
                 tags: dict | None = None, production_requires_admin: bool | None = None,
                 on_degraded: str | None = None, approvals: dict | None = None,
                 on_alert: str | None = None, is_admin: bool,
                 now: dt.datetime | None = None) -> dict:
    """Change the description, merge tags (None removes a key) and, for an admin, the settings
    that decide who or what moves production: whether production moves need an admin, whether
    the scheduler rolls back a degraded production version (`on_degraded`), and how many
    approvals a promotion into each stage needs (`approvals`, merged per stage; 0 removes), and
    whether a firing alert rolls a stage back (`on_alert`).
    Raises ModelNotFound, Forbidden, InvalidInput (an approval policy for an unknown stage)."""
    for name_, value in (("production_requires_admin", production_requires_admin),
                         ("on_degraded", on_degraded), ("approvals", approvals),
                         ("on_alert", on_alert)):
        if value is not None and not is_admin:
            raise Forbidden(f"{name_} is changed by an admin", required_role="admin")
    now = now or utcnow()
    with write_transaction():
        model = find_model(name, for_update=True)
        before = {"description": model.description, "tags": load_tags(ModelTag, [model.id]).get(
            model.id, {}), "production_requires_admin": model.production_requires_admin,
            "on_degraded": model.on_degraded, "approvals": model.approvals or {},
            "on_alert": model.on_alert or "notify"}
        if on_alert is not None:
            model.on_alert = on_alert
        if approvals is not None:
            model.approvals = merged_policy(model.approvals or {},
                                            validate_policy(approvals, stage_names(model)))
        if production_requires_admin is not None:
            model.production_requires_admin = production_requires_admin
        if on_degraded is not None:
            model.on_degraded = on_degraded
        if description is not None:
            model.description = description
        model.updated_at = now
        model.save()
        patch_tags(ModelTag, model, tags or {})
        view = model_views([model])[0]
        append_event(events.MODEL_UPDATED, actor=actor, model=name,
                     data={"description": description, "tags": tags or {},
                           "production_requires_admin": production_requires_admin,
                           "on_degraded": on_degraded, "approvals": approvals,
                           "on_alert": on_alert,
                           "before": before}, now=now)
    return view


def delete_model(name: str, *, actor: str, now: dt.datetime | None = None) -> None:
    """Delete a model and all its versions; raises StageConflict while one holds a stage."""
    with write_transaction():
        model = find_model(name, for_update=True)
        held = holders_of([model.id])
        if held:
            stages = ", ".join(f"{stage} (version {row.version})" for (_, stage), row in
                               sorted(held.items(), key=lambda item: stage_order(item[0][1])))
            raise StageConflict(f"model '{name}' still has versions in {stages}; "
                                "archive them first")
        model.delete_instance()
        append_event(events.MODEL_DELETED, actor=actor, model=name, data={}, now=now)
