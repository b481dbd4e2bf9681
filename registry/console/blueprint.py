"""The console's blueprint and what every page shares: who is signed in (a session cookie
mapped to an API token), the CSRF check on every post, the role a button needs, the page
headers (CSP: nothing from another origin), and errors shown as pages."""
from __future__ import annotations

from flask import (Blueprint, current_app, g, redirect, render_template, request, url_for)
from flask_wtf.csrf import CSRFError, CSRFProtect

from registry.api.problems import KNOWN_ERRORS
from registry.domain.actors import person
from registry.domain.errors import DomainError, Forbidden
from registry.report_formats import describe_rule
from registry.services import sessions, tokens

blp = Blueprint("console", __name__, url_prefix="/ui", template_folder="templates",
                static_folder="static")
csrf = CSRFProtect()
COOKIE = "modelyard_session"
NUMBER = "<int(min=1, max=2147483647):number>"  # bounded: an overlong number is a 404
REPORT_ID = "<int(min=1, max=2147483647):report_id>"
OPEN_ENDPOINTS = {"console.login", "console.static"}
POLICY = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


def settings() -> dict:
    return current_app.config["MODELYARD"]


def can(role: str) -> bool:
    """Whether the signed-in caller has at least `role` (templates hide what it may not do)."""
    return tokens.role_at_least(g.role, role)


@blp.before_request
def _signed_in():
    """Who is calling, from the session cookie; the sign-in page otherwise. Posts need a valid
    CSRF token whoever sends them."""
    if request.method == "POST":
        csrf.protect()
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if not settings()["auth"]["enabled"]:
        g.actor, g.role, g.who = "anonymous", "admin", "anonymous (auth is off)"
        g.subject = "anonymous"
        return None
    caller = sessions.session_caller(request.cookies.get(COOKIE, ""))
    if caller is None:
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    g.actor, g.role, g.who = f"token:{caller.name}", caller.role, caller.name
    g.subject = caller.subject
    return None


@blp.after_request
def _headers(response):
    response.headers.setdefault("Content-Security-Policy", POLICY)
    return response


@blp.app_template_global()
def allowed(role: str) -> bool:
    return "role" in g and can(role)


@blp.app_template_filter()
def when(text: str | None) -> str:
    """`2026-12-02T09:15:03.123Z` -> `2026-12-02 09:15 UTC`."""
    return f"{text[:16].replace('T', ' ')} UTC" if text else ""


@blp.app_template_filter()
def num(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value)


blp.add_app_template_filter(person, "person")
blp.add_app_template_filter(describe_rule, "rule")


@blp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError):
    return page("error.html", 403, title="Refused",
                message=f"This form is stale or was not sent by the console ({error.description}). "
                        "Reload the page and try again.")


@blp.errorhandler(DomainError)
def _refused(error: DomainError):
    """What the API answers as a problem, the console shows as a page with the same status."""
    status = next((code for cls, code, _, _ in KNOWN_ERRORS if isinstance(error, cls)), 500)
    return page("error.html", status, title="Not possible", message=error.detail)


def page(template: str, status: int = 200, **context):
    """A console page with the caller's facts every template uses."""
    return render_template(template, **context), status


def require(role: str) -> None:
    """Raises Forbidden unless the caller has `role` (a forged post gets 403, not a change)."""
    if not can(role):
        raise Forbidden(f"This needs the {role} role; your token has {g.role}.",
                        required_role=role)
