"""The one wire format for instants: RFC 3339 in UTC with microseconds and a Z."""
from __future__ import annotations

import datetime as dt

from registry.models import utcnow  # noqa: F401  (one clock for services)


def rfc3339(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

