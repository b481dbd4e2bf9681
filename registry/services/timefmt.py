"""The one wire format for instants: RFC 3339 in UTC with microseconds and a Z."""
from __future__ import annotations

from webhooks.db import rfc3339, utcnow  # noqa: F401  (one clock and one format everywhere)
