"""Model versions: register with run metadata, read, update, and the none/archived stage moves."""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from functools import partial

from registry.db import (Placeholder, among_sql, execute_together, fetch_prepared, ids_param,
                         insert_rows, insert_statement, write_transaction)
from registry.domain import events
from registry.domain.errors import InvalidInput, StageConflict
from registry.domain.stages import EXIT_STAGES, HELD_STAGES
from registry.models import (RUN_COLUMNS, ModelVersion, Param,
                             RegisteredModel, VersionTag)
from registry.services import idempotency
from registry.services.evaluations import latest_evaluations, read_evaluation_inputs
from registry.services.events import append_event, append_events
from registry.services.holders import stage_order
from registry.services.stages import leave_all_stages
from registry.services.metrics import metric_statements
from registry.services.lookup import (find_model, find_version, provisional_version_number,
                                      take_version_number)
from registry.services.tags import load_tags, patch_tags, tags_statement
from registry.services.timefmt import rfc3339, utcnow


def _dig(tree: dict, path: tuple[str, ...]):
    for step in path:
        tree = tree.get(step) if isinstance(tree, dict) else None
    return tree


def _run_view(row: ModelVersion, params: dict, run_metrics: dict) -> dict:
    run: dict = {"params": params, "metrics": run_metrics}
    for column, path in RUN_COLUMNS.items():
        value = getattr(row, column)
        if isinstance(value, dt.datetime):
            value = rfc3339(value)
        parent = run
        for step in path[:-1]:
            parent = parent.setdefault(step, {})
        parent[path[-1]] = value
    return run


def belongings_sql(param: Placeholder) -> str:
    """Everything a page's versions own, in one statement (one round trip, planned once per
    connection on PostgreSQL): rows of (kind, version id, key, text, number, size, ...), with
    training metrics oldest first and files by path. The one parameter is the page's ids
    (registry.db.ids_param)."""
    ids = among_sql(param(1))
    return f"""
SELECT 'tags' AS kind, version_id, key, value AS text, CAST(NULL AS DOUBLE PRECISION) AS number,
       CAST(NULL AS BIGINT) AS size, CAST(0 AS BIGINT) AS at, 0 AS id
  FROM version_tag WHERE version_id {ids}
UNION ALL SELECT 'params', version_id, key, value_json, NULL, NULL, 0, 0 FROM param
  WHERE version_id {ids}
UNION ALL SELECT 'metrics', version_id, key, NULL, value, NULL, 0, 0 FROM metric_value
  WHERE version_id {ids}
UNION ALL SELECT 'training', version_id, key, NULL, value, NULL, recorded_at, id FROM metric
  WHERE version_id {ids} AND source = 'training'
UNION ALL SELECT 'stages', version_id, stage, NULL, NULL, NULL, 0, 0 FROM stage_holder
  WHERE version_id {ids}
UNION ALL SELECT 'files', version_id, path, sha256, NULL, size, 0, 0 FROM version_file
  WHERE version_id {ids}
ORDER BY 1, 7, 8, 3"""


def _belongings(ids: list[int]) -> dict[str, defaultdict]:
    """kind -> version id -> its "tags", "params", current "metrics", "training" metrics (newest
    wins), held "stages" (in stage_order) and "files" (by path)."""
    found = {kind: defaultdict(dict) for kind in ("tags", "params", "metrics", "training")}
    found |= {kind: defaultdict(list) for kind in ("stages", "files")}
    for kind, version_id, key, text, number, size, *_ in fetch_prepared(
            "version_belongings", belongings_sql, (ids_param(ids),)):
        if kind == "stages":
            found[kind][version_id].append(key)
        elif kind == "files":
            found[kind][version_id].append({"path": key, "size": size, "sha256": text})
        elif kind == "params":
            found[kind][version_id][key] = json.loads(text)
        elif kind == "tags":
            found[kind][version_id][key] = text
        else:  # current and training metrics
            found[kind][version_id][key] = number
    for held in found["stages"].values():
        held.sort(key=stage_order)
    return found


def version_views(rows: list[ModelVersion], model_names: dict[int, str]) -> list[dict]:
    """JSON views of versions with tags, params, metrics, the file manifest and the newest
    evaluation per stage: two round trips whatever the count."""
    ids = [row.id for row in rows]
    if not ids:
        return []
    owned = _belongings(ids)
    evaluations = latest_evaluations(rows, model_names)
    return [_version_view(model_names[row.model_id], row, tags=owned["tags"].get(row.id, {}),
                          params=owned["params"].get(row.id, {}),
                          training=owned["training"].get(row.id, {}),
                          metrics=owned["metrics"].get(row.id, {}),
                          files=owned["files"].get(row.id, []),
                          evaluations=evaluations[row.id],
                          stages=owned["stages"].get(row.id, []))
            for row in rows]


def _version_view(model_name: str, row: ModelVersion, *, tags: dict, params: dict,
                  training: dict, metrics: dict, files: list[dict], evaluations: dict,
                  stages: list[str]) -> dict:
    """The one shape of a version's view, from its row and what belongs to it."""
    return {"model": model_name, "version": row.version, "description": row.description,
            "tags": tags, "status": row.status, "stage": row.stage, "stages": stages,
            "stage_since": rfc3339(row.stage_since), "rolled_back": row.rolled_back,
            "source_uri": row.source_uri, "parent_version": row.parent_version,
            "run": _run_view(row, params, training), "metrics": metrics, "files": files,
            "evaluations": evaluations, "created_at": rfc3339(row.created_at),
            "updated_at": rfc3339(row.updated_at)}


def _view(model: RegisteredModel, row: ModelVersion) -> dict:
    return version_views([row], {model.id: model.name})[0]


def _param_row(row: ModelVersion, key: str, value) -> dict:
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    text = json.dumps(value) if isinstance(value, bool) or value is None else str(value)
    return {"version": row.id, "key": key, "value_json": json.dumps(value),
            "value_text": None if is_number else text,
            "value_num": float(value) if is_number else None}


def _create_row(model: RegisteredModel, spec: dict, now: dt.datetime) -> ModelVersion:
    parent = spec.get("parent_version")
    # an existing version's number is below any number taken later, so existence is enough
    if parent is not None and not (parent >= 1 and ModelVersion.select().where(
            (ModelVersion.model == model.id) & (ModelVersion.version == parent)).exists()):
        raise InvalidInput(f"parent_version {parent} is not a version of '{model.name}'",
                           errors={"parent_version": ["no such version of this model"]})
    run = spec.get("run") or {}
    columns = {column: _dig(run, path) for column, path in RUN_COLUMNS.items()}
    row = ModelVersion(model=model.id, version=provisional_version_number(),
                       status="ready" if spec.get("finalize") else "pending",
                       description=spec.get("description", ""), source_uri=spec.get("source_uri"),
                       parent_version=parent, created_at=now, updated_at=now, **columns)
    row.id = insert_rows(ModelVersion, [row.__data__], returning_id=True)[0]
    return row


def _insert_version(model: RegisteredModel, spec: dict, *, actor: str, now: dt.datetime) -> dict:
    """The version's rows, then its number, then its events; the view is built from what was
    written. Everything a registration writes or reads before the number is taken holds no
    lock another registration of the model waits for; taking the number locks the model's row,
    and appending the events the event counter's row, each until the commit, so both come
    last. A `finalize` spec makes the version ready and evaluated in the same transaction."""
    row = _create_row(model, spec, now)
    run = spec.get("run") or {}
    params, metrics, tags = run.get("params") or {}, run.get("metrics") or {}, spec.get("tags") or {}
    execute_together([
        tags_statement(VersionTag, row, tags),
        insert_statement(Param, [_param_row(row, key, value) for key, value in params.items()])
        if params else None,
        *metric_statements(row, metrics, source="training", recorded_at=now)])
    inputs = read_evaluation_inputs(model, row) if spec.get("finalize") else None
    row.version = take_version_number(model.id, row.id)
    view = _version_view(model.name, row, tags=dict(tags), params=dict(params),
                         training=dict(metrics), metrics=dict(metrics), files=[],
                         evaluations={}, stages=[])
    created = {"type_": events.VERSION_CREATED, "actor": actor, "model": model.name,
               "version": row.version, "data": {"version": view}, "now": now}
    if inputs is None:
        append_event(**created)
        return view
    from registry.services.artifacts import ready_event  # artifacts reads views from here

    ready = ready_event(model, row, actor=actor, now=now, files=[], inputs=inputs)
    append_events([created, ready])
    return {**view, "evaluations": {e["stage"]: e for e in ready["data"]["evaluations"]}}


def register_version(model_name: str, spec: dict, *, actor: str, idempotency_key: str | None = None,
                     idempotency_ttl_s: int = idempotency.DEFAULT_TTL_S, finalize: bool = False,
                     now: dt.datetime | None = None) -> tuple[dict, bool]:
    """Create the next version (status `pending`) with its run metadata; returns (view, replayed).

    The number comes from the model's counter row, updated (and so locked) in this transaction
    once the version's other rows are written: strictly increasing, gapless, never reused.
    With an idempotency key the row is locked before the key is checked, so racing retries
    serialise and the later one replays the first answer. With `finalize` a version that needs
    no uploads (a `source_uri`) is made ready and evaluated in the same transaction (one round
    trip for a training job); its evaluations compare with the stage holders read just before
    the number is taken. Raises ModelNotFound, InvalidInput (bad parent; `finalize` without a
    `source_uri`) and IdempotencyMismatch.
    """
    if finalize:
        if not spec.get("source_uri"):
            raise InvalidInput("a version created ready needs a source_uri (files are uploaded "
                               "to a pending version)",
                               errors={"finalize": ["needs source_uri"]})
        spec = {**spec, "finalize": True}
    now = now or utcnow()
    with write_transaction():
        if idempotency_key is None:
            return _insert_version(find_model(model_name), spec, actor=actor, now=now), False
        model = find_model(model_name, for_update=True)
        create = partial(_insert_version, model, spec, actor=actor, now=now)
        return idempotency.run_once(f"{actor}:register:{model.name}", idempotency_key, spec,
                                    create, ttl_s=idempotency_ttl_s, now=now)


def get_version(model_name: str, number: int) -> dict:
    """The version with run metadata, tags and current metrics; raises ModelNotFound,
    VersionNotFound."""
    model = find_model(model_name)
    return _view(model, find_version(model, number))


def update_version(model_name: str, number: int, *, actor: str, description: str | None = None,
                   tags: dict | None = None, now: dt.datetime | None = None) -> dict:
    """Change the description and merge tags (None removes); raises ModelNotFound,
    VersionNotFound."""
    now = now or utcnow()
    with write_transaction():
        model = find_model(model_name, for_update=True)
        row = find_version(model, number, for_update=True)
        before = {"description": row.description, "tags": load_tags(VersionTag, [row.id]).get(
            row.id, {})}
        if description is not None:
            row.description = description
        row.updated_at = now
        row.save()
        patch_tags(VersionTag, row, tags or {})
        view = _view(model, row)
        append_event(events.VERSION_UPDATED, actor=actor, model=model.name, version=number,
                     data={"description": description, "tags": tags or {}, "before": before},
                     now=now)
    return view


def set_stage(model_name: str, number: int, stage: str, *, actor: str, reason: str | None = None,
              is_admin: bool, now: dt.datetime | None = None) -> dict:
    """Move a version to `none` or `archived`, in any status.

    The version leaves every stage it holds (built-in or declared); each is left without a
    holder and a history row records it. Raises ModelNotFound, VersionNotFound, StageConflict
    for other stages, Forbidden when it holds a stage that requires the admin role.
    """
    if stage not in EXIT_STAGES:
        raise StageConflict(f"stage '{stage}' is entered through promote or rollback, "
                            "not this route")
    now = now or utcnow()
    with write_transaction():
        model = find_model(model_name, for_update=True)
        row = find_version(model, number, for_update=True)
        previous = row.stage
        left = leave_all_stages(model, row, action="archive" if stage == "archived" else "demote",
                                actor=actor, reason=reason, is_admin=is_admin, now=now)
        row.stage, row.stage_since, row.updated_at = stage, now, now
        row.save()
        view = _view(model, row)
        append_event(events.STAGE_CHANGED, actor=actor, model=model.name, version=number, now=now,
                     stage=previous if previous in HELD_STAGES else (left[0] if left else None),
                     data={"from_stage": previous, "to_stage": stage, "reason": reason,
                           "left_stages": left})
    return view
