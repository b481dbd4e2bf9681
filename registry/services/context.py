"""Facts about the request behind a use case (request id, client address), for the audit trail.

The HTTP edge sets them; a use case run from the CLI or a worker has none.
"""
from __future__ import annotations

from contextvars import ContextVar

request_facts: ContextVar[dict] = ContextVar("request_facts", default={})
