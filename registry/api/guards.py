"""Checks and headers around every request: request id, JSON limits, security headers."""
from __future__ import annotations

import re
import uuid
from typing import Callable

from flask import Flask, abort, current_app, g, request

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def json_depth(body: bytes) -> int:
    """Deepest nesting of arrays/objects in a JSON text, ignoring brackets inside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _assign_request_id() -> None:
    given = request.headers.get("X-Request-Id", "")
    g.request_id = given if REQUEST_ID.match(given) else str(uuid.uuid4())


def _json_body() -> bool:
    """API bodies are POST/PATCH JSON; PUT carries file bytes, whatever their content type."""
    return request.is_json and request.method in ("POST", "PATCH")


MAX_PATH_CHARS = 2048  # the longest route (a file path of 1,024 characters) fits well within


def _refuse_overlong_path() -> None:
    if len(request.path) > MAX_PATH_CHARS:
        abort(414, description=f"The path is longer than {MAX_PATH_CHARS} characters.")


def _refuse_nul() -> None:
    """NUL cannot be stored in PostgreSQL text and is never meaningful in a name or filter."""
    in_query = any("\x00" in key or "\x00" in value
                   for key, values in request.args.lists() for value in values)
    if in_query or "\x00" in request.path:
        abort(400, description="NUL characters are not accepted in the URL")
    if _json_body() and b"\\u0000" in request.get_data(cache=True):
        abort(400, description="NUL characters (\\u0000) are not accepted in JSON strings")


def _limit_json() -> None:
    """Too deep a body would exhaust the parser's recursion: refuse it before parsing."""
    if not _json_body():
        return
    limit = current_app.config["MODELYARD"]["api"]["max_json_depth"]
    body = request.get_data(cache=True)  # bounded by MAX_CONTENT_LENGTH (413 beyond it)
    if body.count(b"[") + body.count(b"{") > limit and json_depth(body) > limit:
        abort(400, description=f"JSON nested deeper than {limit} levels")


def _finish(response):
    response.headers["X-Request-Id"] = g.get("request_id", "")
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def install_guards(app: Flask, authenticate: Callable[[Flask], None]) -> None:
    """Request id first, then `authenticate` (so an anonymous caller learns nothing from body
    checks), then the body checks."""
    app.before_request(_assign_request_id)
    app.before_request(_refuse_overlong_path)
    authenticate(app)
    app.before_request(_limit_json)
    app.before_request(_refuse_nul)
    app.after_request(_finish)
