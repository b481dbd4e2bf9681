"""Cursor pagination for every list of the service: cursors are opaque to clients, plain JSON
to us. Lives here, below registry/, so the delivery log and the registry page one way."""
from __future__ import annotations

import base64
import binascii
import json
import math

from webhooks.errors import InvalidCursor


def encode_cursor(position: dict) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _fits(value, kind: str) -> bool:
    if kind.endswith("?"):
        return value is None or _fits(value, kind[:-1])
    if kind == "text":
        return isinstance(value, str) and len(value) <= 4096
    if kind == "int":
        return type(value) is int and abs(value) < 2**62
    return type(value) in (int, float) and math.isfinite(value) and abs(value) <= 1e300


def decode_cursor(cursor: str, **kinds: str) -> dict:
    """The position a cursor holds, each key of the kind named ("text", "int", "number", with
    "?" for nullable), since a tampered value must not reach SQL; raises InvalidCursor for
    anything we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        position = None
    if not isinstance(position, dict) or not all(
            key in position and _fits(position[key], kind) for key, kind in kinds.items()):
        raise InvalidCursor("cursor is not one this server issued", errors={"cursor": ["invalid"]})
    return position


def newest_first(query, key_field, *, limit: int, cursor: str | None,
                 name: str = "id") -> tuple[list, str | None]:
    """One page of `query` in descending `key_field` order, and the cursor of the next page
    (None on the last). The cursor holds the last key seen under `name`; raises InvalidCursor
    for a cursor this server did not issue."""
    if cursor:
        query = query.where(key_field < decode_cursor(cursor, **{name: "int"})[name])
    rows = list(query.order_by(key_field.desc()).limit(limit + 1))
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor({name: getattr(rows[limit - 1], key_field.name)})
