"""API tokens: high-entropy, shown once, stored as SHA-256, named, revocable."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from peewee import IntegrityError

from registry.db import fetch_prepared, write_transaction
from registry.domain import events
from registry.domain.errors import Conflict, InvalidInput, NotFound
from registry.models import ApiToken
from registry.services.events import append_event
from registry.services.timefmt import rfc3339, utcnow

ROLES = ("viewer", "editor", "deployer", "admin")  # each includes the ones before it
PREFIX = "myd_"
LAST_USED_EVERY = dt.timedelta(minutes=1)  # last_used_at is a hint, not a write per request


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def role_at_least(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def view(row: ApiToken) -> dict:
    return {"id": row.id, "name": row.name, "role": row.role,
            "subject": row.subject or row.name, "created_by": row.created_by,
            "created_at": rfc3339(row.created_at), "last_used_at": rfc3339(row.last_used_at),
            "revoked_at": rfc3339(row.revoked_at)}


def create_token(name: str, role: str, *, actor: str, token: str | None = None,
                 subject: str | None = None, now: dt.datetime | None = None) -> dict:
    """A new token; the answer's `token` is the only time it is shown. `token` seeds a given
    value (MODELYARD_ADMIN_TOKEN); `subject` names the person or system behind it (default: its
    name), so that one person's several tokens count once among approvers. Raises InvalidInput
    (role, weak seed), Conflict (name)."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", errors={"role": ["unknown"]})
    if token is not None and len(token) < 32:
        raise InvalidInput("a seeded token needs at least 32 characters",
                           errors={"token": ["too short"]})
    token = token or PREFIX + secrets.token_urlsafe(32)
    now = now or utcnow()
    try:
        with write_transaction():
            row = ApiToken.create(name=name, role=role, token_hash=digest(token),
                                  subject=subject, created_by=actor, created_at=now)
            append_event(events.TOKEN_CREATED, actor=actor, now=now,
                         data={"id": row.id, "name": name, "role": role,
                               "subject": subject or name})
    except IntegrityError:
        raise Conflict(f"a token named '{name}' (or with this value) already exists") from None
    return {**view(row), "token": token}


def list_tokens() -> list[dict]:
    return [view(row) for row in ApiToken.select().order_by(ApiToken.id)]


def revoke_token(token_id: int, *, actor: str, now: dt.datetime | None = None) -> dict:
    """Revoke a token at once; raises NotFound."""
    now = now or utcnow()
    with write_transaction():
        row = ApiToken.get_or_none(ApiToken.id == token_id)
        if row is None:
            raise NotFound(f"token {token_id} does not exist")
        if row.revoked_at is None:
            row.revoked_at = now
            row.save()
            append_event(events.TOKEN_REVOKED,
                         actor=actor, now=now, data={"id": row.id, "name": row.name})
    return view(row)


@dataclass(frozen=True)
class Caller:
    name: str
    role: str
    subject: str = ""  # the person or system behind the token (its name when none was given)


def authenticate(token: str, *, now: dt.datetime | None = None) -> Caller | None:
    """The live token with this value, or None; found by its hash, never compared as text.
    Runs on every request, so it is one prepared query."""
    rows = fetch_prepared("token_by_hash", _token_sql, (digest(token),))
    if not rows:
        return None
    token_id, name, role, last_used_us, subject = rows[0]
    now = now or utcnow()
    last_used = ApiToken.last_used_at.python_value(last_used_us)
    if last_used is None or last_used < now - LAST_USED_EVERY:
        ApiToken.update(last_used_at=now).where(ApiToken.id == token_id).execute()
    return Caller(name=name, role=role, subject=subject)


def _seed_admin_token(seed: str) -> None:
    """The name carries the seed's fingerprint, so a changed seed adds a token of its own."""
    try:
        create_token(f"admin (MODELYARD_ADMIN_TOKEN {digest(seed)[:8]})", "admin",
                     actor="bootstrap", token=seed)
    except Conflict:
        if ApiToken.get_or_none(ApiToken.token_hash == digest(seed)) is None:
            raise
        # another process starting at the same moment seeded it first


def live_token_condition(hash_param: str, prefix: str = "") -> str:
    """What makes a token live, as SQL comparing its hash with `hash_param`: the only place this
    is written (the stage look-up joins it too)."""
    return f"{prefix}token_hash = {hash_param} AND {prefix}revoked_at IS NULL"


def _token_sql(param) -> str:
    live = live_token_condition(param(1))
    return (f"SELECT id, name, role, last_used_at, COALESCE(subject, name) FROM api_token "
            f"WHERE {live}")


def bootstrap(seed: str | None) -> str | None:
    """At start-up: seed `MODELYARD_ADMIN_TOKEN` once; on an empty registry with no seed,
    create an admin token and return it (to print once). Otherwise None.

    Safe when any number of processes start at once: the one whose insert loses the race finds
    the winner's token.
    """
    if seed:
        if ApiToken.get_or_none(ApiToken.token_hash == digest(seed)) is None:
            _seed_admin_token(seed)
        return None
    if ApiToken.select().exists():
        return None
    try:
        return create_token("admin (first start)", "admin", actor="bootstrap")["token"]
    except Conflict:  # another worker of this server made it first
        return None
