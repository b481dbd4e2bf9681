"""Cursor pagination: cursors are opaque to clients, plain JSON to us."""
from __future__ import annotations

import base64
import binascii
import json
from typing import NamedTuple

from registry.domain.errors import InvalidInput


class Page(NamedTuple):
    items: list
    next_cursor: str | None

    def as_dict(self) -> dict:
        return {"items": self.items, "next_cursor": self.next_cursor}


def encode_cursor(position: dict) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *keys: str) -> dict:
    """The position a cursor holds, with `keys` present; raises InvalidInput for anything we
    did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        position = None
    if not isinstance(position, dict) or not all(key in position for key in keys):
        raise InvalidInput("cursor is not one this server issued", errors={"cursor": ["invalid"]})
    return position
