"""Idempotency-Key: a retried call returns the first answer and changes nothing again."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Callable

from registry.domain.errors import IdempotencyMismatch
from registry.models import IdempotencyKey
from registry.services.timefmt import utcnow

DEFAULT_TTL_S = 86400


def request_fingerprint(request: Any) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def run_once(scope: str, key: str | None, request: Any, produce: Callable[[], dict], *,
             ttl_s: int = DEFAULT_TTL_S, now: dt.datetime | None = None) -> tuple[dict, bool]:
    """Run `produce` unless this key already answered; returns (response, replayed).

    Must run inside the use case's transaction, after it has locked the row it changes, so two
    racing calls with one key serialise and the second sees the first's stored answer.
    Raises IdempotencyMismatch when the key was used with a different request body.
    """
    if key is None:
        return produce(), False
    now = now or utcnow()
    fingerprint = request_fingerprint(request)
    stored = IdempotencyKey.get_or_none((IdempotencyKey.scope == scope) & (IdempotencyKey.key == key))
    if stored and stored.created_at > now - dt.timedelta(seconds=ttl_s):
        if stored.request_hash != fingerprint:
            raise IdempotencyMismatch(
                "this Idempotency-Key was already used with a different request body")
        return stored.response, True
    if stored:
        stored.delete_instance()
    response = produce()
    IdempotencyKey.create(scope=scope, key=key, request_hash=fingerprint, response=response,
                          created_at=now)
    return response, False
