"""Metric history (append-only) and the per-version search index of offline values."""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Mapping

from registry.db import Statement, database, execute_together, insert_statement, write_transaction
from registry.domain import events
from registry.domain.errors import InvalidInput
from registry.models import Metric, MetricValue, ModelVersion
from registry.services.events import append_event
from registry.services.lookup import find_model, find_version
from registry.services.pages import Page, decode_cursor, encode_cursor
from registry.services.timefmt import rfc3339, utcnow


def metric_statements(row: ModelVersion, metrics: Mapping[str, float], *, source: str,
                      recorded_at: dt.datetime) -> list[Statement]:
    """The statements that append history rows; training and evaluation values also refresh the
    search index, where the newest recorded value wins (live values stay history-only)."""
    if not metrics:
        return []
    history = insert_statement(Metric, [{"version": row.id, "key": key, "value": value,
                                         "source": source, "recorded_at": recorded_at}
                                        for key, value in metrics.items()])
    if source == "live":
        return [history]
    at = MetricValue.recorded_at.db_value(recorded_at)
    index = (_index_sql(len(metrics), database.param),
             [value for key, number in metrics.items() for value in (row.id, key, number, at)])
    return [history, index]


@lru_cache(maxsize=64)
def _index_sql(count: int, param: str) -> str:
    """The upsert of `count` values into the search index, where the newest recorded wins."""
    values = ", ".join([f"({param}, {param}, {param}, {param})"] * count)
    return ("INSERT INTO metric_value (version_id, key, value, recorded_at) VALUES "
            f"{values} ON CONFLICT (version_id, key) DO UPDATE SET value = EXCLUDED.value, "
            "recorded_at = EXCLUDED.recorded_at "
            "WHERE metric_value.recorded_at <= EXCLUDED.recorded_at")


def record_metrics(model_name: str, number: int, metrics: Mapping[str, float], *, source: str,
                   actor: str, recorded_at: dt.datetime | None = None,
                   now: dt.datetime | None = None) -> dict:
    """Append metric values to a version's history; raises ModelNotFound, VersionNotFound,
    InvalidInput for an empty set."""
    if not metrics:
        raise InvalidInput("metrics must name at least one value",
                           errors={"metrics": ["must not be empty"]})
    now = now or utcnow()
    recorded_at = recorded_at or now
    with write_transaction():
        model = find_model(model_name, for_update=True)
        row = find_version(model, number)
        execute_together(metric_statements(row, metrics, source=source, recorded_at=recorded_at))
        append_event(events.METRICS_RECORDED,
                     actor=actor, model=model.name, version=number, now=now,
                     data={"metrics": dict(metrics), "source": source,
                           "recorded_at": rfc3339(recorded_at)})
    return {"model": model.name, "version": number, "source": source, "metrics": dict(metrics),
            "recorded_at": rfc3339(recorded_at)}


def metric_history(model_name: str, number: int, *, key: str | None = None,
                   source: str | None = None, limit: int = 50, cursor: str | None = None) -> Page:
    """A version's metric values in recorded_at order (oldest first); raises ModelNotFound, VersionNotFound."""
    row = find_version(find_model(model_name), number)
    query = Metric.select().where(Metric.version == row)
    if key:
        query = query.where(Metric.key == key)
    if source:
        query = query.where(Metric.source == source)
    if cursor:
        after = decode_cursor(cursor, at="int", id="int")
        query = query.where((Metric.recorded_at > after["at"]) | (
            (Metric.recorded_at == after["at"]) & (Metric.id > after["id"])))
    rows = list(query.order_by(Metric.recorded_at, Metric.id).limit(limit + 1))
    page = rows[:limit]
    items = [{"key": m.key, "value": m.value, "source": m.source,
              "recorded_at": rfc3339(m.recorded_at)} for m in page]
    last = page[-1] if len(rows) > limit else None
    next_cursor = encode_cursor({"at": Metric.recorded_at.db_value(last.recorded_at),
                                 "id": last.id}) if last else None
    return Page(items, next_cursor)
