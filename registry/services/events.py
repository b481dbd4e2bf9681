"""The durable event log: one row per mutation, written in the mutation's transaction."""
from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from typing import Any

from registry.db import database, execute_together, fetch_prepared, insert_statement
from registry.domain.events import EventType
from registry.models import Event, ModelVersion, RegisteredModel
from registry.services import audit
from registry.services.timefmt import rfc3339, utcnow
from webhooks import outbox

EVENT_SEQ = "event_seq"
POLL_INTERVAL_S = 0.25
_committed = threading.Condition()


def _wake_waiters() -> None:
    with _committed:
        _committed.notify_all()


def append_event(type_: EventType, *, actor: str, model: str | None = None,
                 version: int | None = None, stage: str | None = None,
                 data: dict[str, Any] | None = None, now: dt.datetime | None = None) -> Event:
    """Append an event inside the caller's transaction.

    The sequence number comes from a counter row updated under its row lock, so events commit in
    `seq` order and a reader polling `after=<seq>` never skips one that commits late. Callers
    append last in their transaction to keep that lock short. The audit record and the outbox
    rows of matching webhook subscriptions are written in the same transaction. `stage` names
    the stage the event is about, for the feed's and subscriptions' stage filters.
    """
    return append_events([{"type_": type_, "actor": actor, "model": model, "version": version,
                           "stage": stage, "data": data, "now": now}])[0]


def append_events(specs: list[dict]) -> list[Event]:
    """Several events (append_event's arguments as dicts), in order and with consecutive seqs,
    as append_event appends one, in the same few statements as one."""
    if database.transaction_depth() == 0:
        raise RuntimeError("append_event must run inside the mutation's transaction")
    public = [spec for spec in specs if not spec["type_"].name.startswith(outbox.INTERNAL_EVENTS)]
    active = outbox.active_subscriptions() if public else []
    take_seqs = ("take_event_seqs", lambda param: (
        f"UPDATE counter SET value = value + {param(1)} WHERE name = {param(2)}"),
        (len(specs), EVENT_SEQ))
    # read once the counter's row is ours: the last audit record is then the previous holder's
    ((last, last_hash),) = fetch_prepared("taken_event_seqs", lambda param: (
        f"SELECT value, ({audit.LAST_HASH_SQL}) FROM counter WHERE name = {param(1)}"),
        (EVENT_SEQ,), after=take_seqs)
    events = []
    for seq, spec in enumerate(specs, start=last - len(specs) + 1):
        events.append(Event(seq=seq, event_id=str(uuid.uuid4()), type=spec["type_"].name,
                            model=spec.get("model"), version=spec.get("version"),
                            stage=spec.get("stage"), actor=spec["actor"],
                            at=spec.get("now") or utcnow(), data=spec.get("data") or {}))
    execute_together([insert_statement(Event, [event.__data__ for event in events]),
                      audit.record_statement(events, last_hash)])
    for event in events:
        targets = outbox.wanting(active, event.type, event.model, event.stage)
        outbox.enqueue(event_view(event), targets, at=event.at,
                       production_version=lambda model=event.model: _production(model))
    database.after_commit(_wake_waiters)
    return events


def _production(model_name: str | None) -> int | None:
    if model_name is None:
        return None
    holder = (ModelVersion.select(ModelVersion.version).join(RegisteredModel)
              .where((RegisteredModel.name == model_name) & (ModelVersion.stage == "production"))
              .first())
    return holder.version if holder else None


def event_view(event: Event) -> dict:
    return {"id": event.event_id, "seq": event.seq, "type": event.type, "model": event.model,
            "version": event.version, "actor": event.actor, "at": rfc3339(event.at),
            "data": event.data}


def _matching(*, model: str | None, type_: str | None, stage: str | None):
    """Events, filtered by whichever of model, type and stage are given."""
    query = Event.select()
    for column, value in ((Event.model, model), (Event.type, type_), (Event.stage, stage)):
        if value:
            query = query.where(column == value)
    return query


def recent_events(*, model: str | None = None, type_: str | None = None,
                  limit: int = 50) -> list[dict]:
    """The newest events first (for people; programs follow `list_events` in seq order)."""
    query = _matching(model=model, type_=type_, stage=None)
    return [event_view(row) for row in query.order_by(Event.seq.desc()).limit(limit)]


def list_events(*, after: int = 0, model: str | None = None, type_: str | None = None,
                stage: str | None = None, limit: int = 100, wait_s: float = 0) -> dict:
    """Events with seq > after in seq order, waiting up to `wait_s` for the first one to commit.

    Guarantees no gaps: an event with a smaller seq is never committed after a larger one.
    """
    deadline = time.monotonic() + wait_s
    while True:
        query = _matching(model=model, type_=type_, stage=stage).where(Event.seq > after)
        rows = list(query.order_by(Event.seq).limit(limit))
        remaining = deadline - time.monotonic()
        if rows or remaining <= 0:
            break
        with _committed:  # woken by a commit in this process; polls for other processes
            _committed.wait(min(POLL_INTERVAL_S, remaining))
    last = rows[-1].seq if rows else after
    return {"items": [event_view(row) for row in rows], "last_seq": last}
