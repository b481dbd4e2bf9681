"""Per-request facts the routes hand to services: who is acting, and idempotency keys."""
from __future__ import annotations

import re

from flask import current_app, g, request

from registry.domain.errors import InvalidInput

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,256}$")


def current_actor() -> str:
    """The authenticated principal; requests are anonymous until the auth layer names them."""
    return g.get("actor", "anonymous")


def idempotency_key() -> str | None:
    """The Idempotency-Key header, validated; raises InvalidInput for an unusable key."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise InvalidInput("Idempotency-Key must be 1-256 visible ASCII characters",
                           errors={"Idempotency-Key": ["invalid"]})
    return key


def idempotency_ttl_s() -> int:
    return current_app.config["MODELYARD"]["api"]["idempotency_ttl_s"]
