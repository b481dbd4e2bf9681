"""Console sessions: signing in with an API token, the caller behind a session, signing out.

The browser holds a random session id (HttpOnly cookie); the table holds its SHA-256 and the
token it stands for, so revoking the token or passing `expires_at` ends the session on the
next request, in every replica.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets

from registry.db import write_transaction
from registry.domain.errors import Unauthorized
from registry.models import ApiToken, ConsoleSession
from registry.services import tokens
from registry.services.timefmt import utcnow

log = logging.getLogger(__name__)


def start_session(token: str, *, hours: float, now: dt.datetime | None = None
                  ) -> tuple[str, tokens.Caller]:
    """A new session for a live token: (the session id to give the browser, who it is).
    Expired sessions are cleared on the way. Raises Unauthorized for an unknown or revoked
    token, saying no more than that."""
    now = now or utcnow()
    row = ApiToken.get_or_none((ApiToken.token_hash == tokens.digest(token.strip()))
                               & ApiToken.revoked_at.is_null())
    if row is None:
        raise Unauthorized("That token is unknown or revoked.")
    session_id = secrets.token_urlsafe(32)
    with write_transaction():
        ConsoleSession.delete().where(ConsoleSession.expires_at <= now).execute()
        ConsoleSession.create(id_hash=tokens.digest(session_id), token=row, created_at=now,
                              expires_at=now + dt.timedelta(hours=hours))
    log.info("console sign-in with token %s (%s)", row.name, row.role)
    return session_id, tokens.Caller(name=row.name, role=row.role,
                                     subject=row.subject or row.name)


def session_caller(session_id: str, *, now: dt.datetime | None = None) -> tokens.Caller | None:
    """Who a session stands for, or None when it is unknown, expired, or its token revoked."""
    row = (ApiToken.select(ApiToken.name, ApiToken.role, ApiToken.subject)
           .join(ConsoleSession)
           .where((ConsoleSession.id_hash == tokens.digest(session_id))
                  & (ConsoleSession.expires_at > (now or utcnow()))
                  & ApiToken.revoked_at.is_null()).first())
    return tokens.Caller(name=row.name, role=row.role,
                         subject=row.subject or row.name) if row else None


def end_session(session_id: str) -> None:
    """Sign out: the session is gone at once (a missing one is fine)."""
    with write_transaction():
        ConsoleSession.delete().where(
            ConsoleSession.id_hash == tokens.digest(session_id)).execute()
