"""Signing in with an API token, and out."""
from __future__ import annotations

from flask import g, make_response, redirect, request, url_for

from registry.console.blueprint import COOKIE, blp, page, settings
from registry.domain.errors import Unauthorized
from registry.services import sessions


def _safe_next(target: str | None) -> str:
    """Only a path on this server: never an open redirect."""
    if target and target.startswith("/ui") and not target.startswith("//"):
        return target
    return url_for("console.fleet")


@blp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form; a token that is unknown or revoked is told so, plainly."""
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return page("login.html", next=target)
    hours = settings()["ui"]["session_hours"]
    try:
        session_id, _ = sessions.start_session(request.form.get("token", ""), hours=hours)
    except Unauthorized as refused:
        return page("login.html", 401, next=target, error=refused.detail)
    response = make_response(redirect(target, 303))
    response.set_cookie(COOKIE, session_id, max_age=int(hours * 3600), httponly=True,
                        samesite="Lax", path="/ui", secure=_secure())
    return response


def _secure() -> bool:
    """The cookie is Secure behind https: the request's scheme or the configured address."""
    return request.is_secure or settings()["server"]["public_url"].startswith("https://")


@blp.route("/logout", methods=["POST"])
def logout():
    """Sign out: the session ends on the server at once."""
    sessions.end_session(request.cookies.get(COOKIE, ""))
    response = make_response(redirect(url_for("console.login"), 303))
    response.delete_cookie(COOKIE, path="/ui")
    g.pop("role", None)
    return response
