"""The deployers' hot path, answered before Flask: GET or HEAD of a stage holder.

`/api/v1/models/{model}/production` and `/api/v1/models/{model}/stages/{stage}` are what every
deployment system polls. Here a look-up costs one prepared query (the token and the holder in
one round trip) and none of the framework's per-request work. Only answers that need nothing
else are given here: 200 or 304 to a caller whose token may read. Everything else (no token or a
bad one, a token not seen for a minute, an unknown model or stage, an empty stage, a query
string) goes
on to the Flask route, the one source of errors and of `last_used_at` refreshes.
tests/api/test_hot_path.py holds both paths to the same bytes and headers.
"""
from __future__ import annotations

import json
import re
import time
import uuid

from flask import Flask
from peewee import DatabaseError
from prometheus_client import CollectorRegistry, Histogram
from werkzeug.http import parse_etags

from registry.api.auth import bearer_token
from registry.api.guards import REQUEST_ID, SECURITY_HEADERS
from registry.db import database
from registry.domain.errors import DomainError
from registry.domain.names import MODEL_NAME
from registry.domain.stages import STAGE_NAME
from registry.services import holders as holder_service

PATH = re.compile(rf"^/api/v1/models/({MODEL_NAME.pattern.strip('^$')})/"
                  rf"(?:(production)|stages/({STAGE_NAME.pattern.strip('^$')}))$")
HEADERS = [(name, value) for name, value in SECURITY_HEADERS.items() if name != "Cache-Control"]


class StageLookups:
    """WSGI middleware in front of the Flask app (see the module docstring)."""

    def __init__(self, app: Flask, registry: CollectorRegistry) -> None:
        self.next = app.wsgi_app
        self.auth = app.config["MODELYARD"]["auth"]["enabled"]
        self.seconds = Histogram("modelyard_stage_lookup_seconds", "Stage holder look-ups "
                                 "answered on the hot path (200 and 304)", ["stage", "status"],
                                 registry=registry)

    def __call__(self, environ, start_response):
        match = PATH.match(environ.get("PATH_INFO", ""))
        method = environ.get("REQUEST_METHOD")
        if not match or method not in ("GET", "HEAD") or environ.get("QUERY_STRING"):
            return self.next(environ, start_response)
        started = time.perf_counter()
        model, stage = match.group(1), match.group(2) or match.group(3)
        view = self._view(environ, model, stage)
        if view is None:
            return self.next(environ, start_response)
        status, headers, body = self._answer(environ, view)
        start_response(status, headers)
        self.seconds.labels(stage, status[:3]).observe(time.perf_counter() - started)
        return [body] if method == "GET" else []

    def _view(self, environ, model: str, stage: str) -> dict | None:
        token = bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
        if self.auth and not token:
            return None
        try:
            with database.connection_context():
                if self.auth:
                    return holder_service.stage_view_for_token(model, stage, token)
                return holder_service.stage_view(model, stage)
        except (DomainError, DatabaseError):  # the route gives the problem+json answer
            return None

    @staticmethod
    def _answer(environ, view: dict) -> tuple[str, list[tuple[str, str]], bytes]:
        etag = view.pop("etag")
        given = environ.get("HTTP_X_REQUEST_ID", "")
        headers = [("ETag", etag), ("Cache-Control", "no-cache"),
                   ("X-Request-Id", given if REQUEST_ID.match(given) else str(uuid.uuid4())),
                   *HEADERS]
        if_none_match = parse_etags(environ.get("HTTP_IF_NONE_MATCH"))
        if if_none_match and (if_none_match.star_tag or etag.strip('"') in if_none_match):
            return "304 NOT MODIFIED", headers, b""
        body = json.dumps(view).encode()
        return "200 OK", [("Content-Type", "application/json"),
                          ("Content-Length", str(len(body))), *headers], body
