"""Version search: the filter language compiled to SQL, keyset pagination over any sort key."""
from __future__ import annotations

import datetime as dt
import operator

from peewee import JOIN

from registry.domain.filters import Condition, Field, OrderBy, parse_filter, parse_order_by
from registry.models import MetricValue, ModelVersion, Param, RegisteredModel, VersionTag
from registry.services.lookup import find_model
from registry.services.pages import Page, decode_cursor, encode_cursor
from registry.services.versions import version_views

COMPARE = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
           ">": operator.gt, ">=": operator.ge}
COLUMNS = {
    "version": ModelVersion.version, "stage": ModelVersion.stage, "status": ModelVersion.status,
    "created_at": ModelVersion.created_at, "model": RegisteredModel.name,
    "source_uri": ModelVersion.source_uri,
    "run.id": ModelVersion.run_id, "run.experiment": ModelVersion.run_experiment,
    "run.uri": ModelVersion.run_uri, "run.started_at": ModelVersion.run_started_at,
    "run.ended_at": ModelVersion.run_ended_at, "run.dataset.name": ModelVersion.dataset_name,
    "run.dataset.version": ModelVersion.dataset_version,
    "run.dataset.digest": ModelVersion.dataset_digest, "run.code.repo": ModelVersion.code_repo,
    "run.code.commit": ModelVersion.code_commit, "run.code.branch": ModelVersion.code_branch,
    "run.environment.python": ModelVersion.env_python,
}


FAMILY_TABLES = {"metrics": MetricValue, "params": Param, "tags": VersionTag}


NOT_NULL = {"version", "created_at", "stage", "status", "model"}


def _apply_condition(query, condition: Condition, index: int):
    """Column conditions become WHERE terms. Metric, param and tag conditions inner-join their
    table on its unique (version, key) index: one index probe per candidate whatever the
    planner's statistics say (an IN-subquery degrades to a nested scan on fresh tables).
    Returns the query and, for a metric condition, the joined value column."""
    field, compare, value = condition.field, COMPARE[condition.op], condition.value
    if field.family in ("plain", "run"):
        return query.where(compare(COLUMNS[field.name], value)), None
    table = FAMILY_TABLES[field.family].alias(f"cond_{index}")
    if field.family == "params":
        column = table.value_num if isinstance(value, float) else table.value_text
    else:
        column = table.value
    query = query.join(table, on=((table.version == ModelVersion.id) & (table.key == field.name)
                                  & compare(column, value)))
    return query, column if field.family == "metrics" else None


def _sort_expression(query, field: Field, filtered: dict):
    """The query joined as needed, the expression to sort by, and whether it may be NULL (a
    version lacking the value). A metric the filter already joined is sorted by that join's
    value, never NULL there: the database can then walk the (key, value) index in order and
    stop at the page's end instead of sorting every match."""
    if field.family in ("plain", "run"):
        return query, COLUMNS[field.name], field.name not in NOT_NULL
    if field.family == "metrics" and field.name in filtered:
        return query, filtered[field.name], False
    if field.family == "metrics":
        alias = MetricValue.alias("sort_value")
        query = query.join(alias, JOIN.LEFT_OUTER, on=(
            (alias.version == ModelVersion.id) & (alias.key == field.name)))
        return query, alias.value, True
    table = Param.alias("sort_value") if field.family == "params" else VersionTag.alias("sort_value")
    query = query.join(table, JOIN.LEFT_OUTER, on=(
        (table.version == ModelVersion.id) & (table.key == field.name)))
    # Params sort by their numeric value; text-valued params sort last, like missing ones.
    return query, table.value_num if field.family == "params" else table.value, True


def _after(expr, descending: bool, last_value, last_id: int, nullable: bool):
    """Rows after (last_value, last_id) in ORDER BY (expr IS NULL), expr, id (same direction)."""
    beyond, tie = (operator.lt, ModelVersion.id < last_id) if descending else (
        operator.gt, ModelVersion.id > last_id)
    if last_value is None:
        return expr.is_null() & tie
    after = beyond(expr, last_value) | ((expr == last_value) & tie)
    return after | expr.is_null() if nullable else after


def _cursor_kind(field: Field) -> str:
    """The JSON kind a sort value of this field has in a cursor."""
    if field.family == "tags" or field.kind in ("text", "stage", "status"):
        return "text"
    return "int" if field.kind in ("int", "time") else "number"


def _plain(value):
    if isinstance(value, dt.datetime):
        return ModelVersion.created_at.db_value(value)
    return value


def search_versions(*, model: str | None = None, filter_text: str | None = None,
                    order_by: str | None = None, stage: str | None = None,
                    status: str | None = None, limit: int = 50,
                    cursor: str | None = None) -> Page:
    """Versions of one model (or all) matching the filter, sorted, one page at a time.

    Filters compile to indexed SQL (EXISTS-style subqueries on the metric, param and tag tables).
    Raises BadFilter with the position of a bad expression, ModelNotFound for an unknown model,
    InvalidInput for a cursor that is not ours.
    """
    conditions = parse_filter(filter_text or "")
    order = parse_order_by(order_by) if order_by else OrderBy(
        Field("plain", "version" if model else "created_at", "int"), True)
    query = ModelVersion.select(ModelVersion, RegisteredModel.name).join(RegisteredModel)
    if model:
        query = query.where(ModelVersion.model == find_model(model))
    for extra in (("stage", stage), ("status", status)):
        if extra[1]:
            query = query.where(COLUMNS[extra[0]] == extra[1])
    filtered: dict = {}
    for index, condition in enumerate(conditions):
        query, column = _apply_condition(query, condition, index)
        if column is not None:
            filtered.setdefault(condition.field.name, column)
    query, sort, nullable = _sort_expression(query, order.field, filtered)
    if cursor:
        position = decode_cursor(cursor, value=_cursor_kind(order.field) + "?", id="int")
        query = query.where(_after(sort, order.descending, position["value"], position["id"],
                                   nullable))
    direction = "desc" if order.descending else "asc"
    keys = [getattr(sort, direction)(), getattr(ModelVersion.id, direction)()]
    query = query.select_extend(sort.alias("sort_value_")).order_by(
        *([sort.is_null()] if nullable else []), *keys)
    rows = list(query.limit(limit + 1).objects())
    page = rows[:limit]
    names = {row.model_id: row.name for row in page}
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor({"value": _plain(last.sort_value_), "id": last.id})
    return Page(version_views(page, names), next_cursor)
