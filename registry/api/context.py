"""Per-request facts the routes hand to services: who is acting, whether as an admin, and the
request's idempotency key. `caller()` gathers them as the keyword arguments services take."""
from __future__ import annotations

import re

from flask import current_app, g, request

from registry.domain.errors import InvalidInput

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,256}$")


def current_actor() -> str:
    """The authenticated principal; requests are anonymous until the auth layer names them."""
    return g.get("actor", "anonymous")


def current_subject() -> str:
    """The person or system behind the caller's token (approvals count subjects)."""
    return g.get("subject", "anonymous")


def idempotency_key() -> str | None:
    """The Idempotency-Key header, validated; raises InvalidInput for an unusable key."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise InvalidInput("Idempotency-Key must be 1-256 visible ASCII characters",
                           errors={"Idempotency-Key": ["invalid"]})
    return key


def idempotency_ttl_s() -> int:
    return current_app.config["MODELYARD"]["api"]["idempotency_ttl_s"]


def is_admin() -> bool:
    """The auth layer's verdict on the caller's role (every caller is an admin with auth off)."""
    return g.get("role") == "admin"


def caller(*, idempotent: bool = False) -> dict:
    """Who acts, as service keyword arguments: `actor` and `is_admin`, and for a use case that
    takes an Idempotency-Key, the key and how long it is remembered."""
    facts = {"actor": current_actor(), "is_admin": is_admin()}
    if idempotent:
        facts.update(idempotency_key=idempotency_key(), idempotency_ttl_s=idempotency_ttl_s())
    return facts
