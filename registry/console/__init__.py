"""The web console for on-call engineers and managers: server-rendered pages over the same
services as the API (registry/api), signed in with an API token.

Sessions live in the database (registry/services/sessions.py); the browser holds a random id in
an HttpOnly, SameSite=Lax cookie. Every form post carries a CSRF token (Flask-WTF). Pages load
nothing from another origin: htmx is vendored under static/ (see static/VENDORED).
"""
from __future__ import annotations

import hashlib

from flask import Flask, redirect

from registry.console import actions, pages, signin  # noqa: F401  (their routes join blp)
from registry.console.blueprint import blp, csrf


def _secret_key(fernet_key: bytes) -> bytes:
    """Signs the CSRF cookie; derived from the webhook key every replica already shares."""
    return hashlib.sha256(b"modelyard console csrf\0" + fernet_key).digest()


def install_console(app: Flask, fernet_key: bytes) -> None:
    """The console under /ui, and `/` sending people there."""
    app.secret_key = _secret_key(fernet_key)
    app.config.update(WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None,
                      SESSION_COOKIE_NAME="modelyard_csrf", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax")
    csrf.init_app(app)
    app.register_blueprint(blp)
    app.add_url_rule("/", "console_root", lambda: redirect("/ui/", 302))
