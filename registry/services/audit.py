"""The audit trail: append-only, hash-chained, one record per event in its transaction."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

from registry.db import Statement, insert_statement
from registry.models import AuditRecord, Counter, Event
from registry.services.context import request_facts
from registry.services.pages import Page, newest_first
from registry.services.timefmt import rfc3339

GENESIS = "0" * 64


def _canonical(record: dict) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), default=str).encode()


def _fields(row: AuditRecord) -> dict:
    return {"seq": row.seq, "at": AuditRecord.at.db_value(row.at), "actor": row.actor,
            "action": row.action, "model": row.model, "version": row.version,
            "request_id": row.request_id, "client_address": row.client_address,
            "summary": row.summary}


def chain_hash(previous_hash: str, fields: dict) -> str:
    return hashlib.sha256(previous_hash.encode() + _canonical(fields)).hexdigest()


LAST_HASH_SQL = "SELECT hash FROM audit_record ORDER BY seq DESC LIMIT 1"


def record_statement(events: list[Event], last_hash: str | None) -> Statement:
    """The statement that appends the audit records of `events` (in seq order) after the record
    whose hash is `last_hash` (LAST_HASH_SQL's answer; None before the first record), to run
    inside their transaction: the event counter's row lock, held since `last_hash` was read,
    makes records chain in seq order."""
    facts = request_facts.get()
    previous, rows = last_hash or GENESIS, []
    for event in events:
        row = AuditRecord(seq=event.seq, at=event.at, actor=event.actor, action=event.type,
                          model=event.model, version=event.version,
                          request_id=facts.get("request_id"), client_address=facts.get("client"),
                          summary=event.data, previous_hash=previous)
        row.hash = previous = chain_hash(previous, _fields(row))
        rows.append(row.__data__)
    return insert_statement(AuditRecord, rows)


def view(row: AuditRecord) -> dict:
    return {**_fields(row), "at": rfc3339(row.at), "previous_hash": row.previous_hash,
            "hash": row.hash}


def list_audit(*, model: str | None = None, actor: str | None = None, action: str | None = None,
               since: dt.datetime | None = None, limit: int = 50,
               cursor: str | None = None) -> Page:
    """Audit records, newest first, filtered; raises InvalidInput for a bad cursor."""
    query = AuditRecord.select()
    for column, value in ((AuditRecord.model, model), (AuditRecord.actor, actor),
                          (AuditRecord.action, action)):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditRecord.at >= since)
    rows, next_cursor = newest_first(query, AuditRecord.seq, limit=limit, cursor=cursor, name="seq")
    return Page([view(row) for row in rows], next_cursor)


def verify() -> list[str]:
    """Problems in the chain: a record whose hash does not match its content or its
    predecessor (so a deleted first record shows too), a missing seq, or records missing at the
    end (the event counter says how many there must be). Empty when intact."""
    problems, previous_hash, expected_seq = [], GENESIS, None
    for row in AuditRecord.select().order_by(AuditRecord.seq).iterator():
        if expected_seq is not None and row.seq != expected_seq:
            problems.append(f"records {expected_seq}..{row.seq - 1} are missing")
        if row.previous_hash != previous_hash:
            problems.append(f"record {row.seq} does not follow its predecessor")
        if chain_hash(row.previous_hash, _fields(row)) != row.hash:
            problems.append(f"record {row.seq} was altered")
        previous_hash, expected_seq = row.hash, row.seq + 1
    last_event = Counter.get(Counter.name == "event_seq").value
    if expected_seq is not None and expected_seq - 1 < last_event:
        problems.append(f"records after {expected_seq - 1} are missing "
                        f"(events go up to {last_event})")
    return problems
