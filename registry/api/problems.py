"""RFC 9457 problem+json: the one place that owns the error wire format."""
from __future__ import annotations

import logging

import marshmallow as ma
from flask import Flask, Response, g, json
from peewee import OperationalError
from werkzeug.exceptions import HTTPException

from registry.domain import errors
from webhooks import errors as webhook_errors

log = logging.getLogger(__name__)
PROBLEM_TYPE_BASE = "https://modelyard.dev/problems/"

# Known error -> (status, problem type slug, title): the registry's domain errors and the webhook
# package's, which share their shape. First match wins, so subclasses come first.
KNOWN_ERRORS: list[tuple[type[Exception], int, str, str]] = [
    (errors.Unauthorized, 401, "unauthorized", "Unauthorized"),
    (errors.SelfApproval, 403, "self-approval", "You may not approve your own request"),
    (errors.Forbidden, 403, "forbidden", "Forbidden"),
    (errors.ModelNotFound, 404, "model-not-found", "Model not found"),
    (errors.VersionNotFound, 404, "version-not-found", "Version not found"),
    (errors.UnknownStage, 404, "unknown-stage", "Unknown stage"),
    (errors.RequestNotFound, 404, "promotion-request-not-found", "Promotion request not found"),
    (errors.NotFound, 404, "not-found", "Not found"),
    (errors.NoRollbackTarget, 409, "no-rollback-target", "No version to roll back to"),
    (errors.ModelExists, 409, "model-exists", "Model already exists"),
    (errors.StageExists, 409, "stage-exists", "Stage already declared"),
    (errors.ApprovalRequired, 409, "approval-required", "Approval required"),
    (errors.StageConflict, 409, "stage-conflict", "Stage conflict"),
    (errors.Conflict, 409, "conflict", "Conflict with the current state"),
    (errors.CriteriaNotMet, 422, "criteria-not-met", "Acceptance criteria not met"),
    (errors.DigestMismatch, 422, "digest-mismatch", "Content-Digest mismatch"),
    (errors.BadFilter, 422, "bad-filter", "Invalid filter expression"),
    (errors.IdempotencyMismatch, 422, "idempotency-key-reused",
     "Idempotency-Key reused with a different request"),
    (errors.InvalidInput, 422, "invalid-input", "Invalid input"),
    (errors.StaleVersion, 412, "stale-version", "The state changed since you read it"),
    (errors.ArtifactTooLarge, 413, "file-too-large", "File too large"),
    (errors.IncompleteUpload, 400, "incomplete-upload", "Incomplete upload"),
    (webhook_errors.SubscriptionNotFound, 404, "webhook-not-found", "Webhook not found"),
    (webhook_errors.DeliveryNotFound, 404, "delivery-not-found", "Delivery not found"),
    (webhook_errors.InvalidSubscription, 422, "invalid-webhook", "Invalid webhook"),
    (webhook_errors.InvalidCursor, 422, "invalid-input", "Invalid input"),
]


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details (documentation only; `problem()` builds the payload)."""
    type = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    instance = ma.fields.String()
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw())
    position = ma.fields.Integer()
    current_version = ma.fields.Integer(allow_none=True)
    evaluation = ma.fields.Dict()
    required_role = ma.fields.String()
    request_status = ma.fields.String(metadata={"description": "a promotion request's status"})


def problem(status: int, title: str, detail: str, *, slug: str | None = None,
            headers: dict | None = None, **extensions) -> Response:
    """A problem+json response carrying the request id as `instance`."""
    body = {"type": PROBLEM_TYPE_BASE + (slug or str(status)), "title": title, "status": status,
            "detail": detail, "instance": f"urn:uuid:{g.get('request_id', '')}"}
    body.update(extensions)
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    response.headers.update(headers or {})
    return response


def _field_errors(messages) -> dict:
    """webargs nests errors under the location ('json', 'query'); clients want field -> messages."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "headers", "path",
                                                         "form", "files", "cookies", "view_args"}:
        flat: dict = {}
        for location_errors in messages.values():
            flat.update(location_errors if isinstance(location_errors, dict)
                        else {"_body": location_errors})
        return flat
    return messages if isinstance(messages, dict) else {"_body": messages}


def handle_http_exception(error: HTTPException) -> Response:
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    status = error.code or 500
    if status == 422 and messages:
        return problem(422, "Invalid request content", "The request body or query has invalid "
                       "fields; see errors.", slug="validation", errors=_field_errors(messages))
    if status == 400 and messages:
        return problem(400, "Malformed request", "The body is not valid JSON.",
                       slug="malformed-json", errors=_field_errors(messages))
    headers = dict(data.get("headers") or {})
    if status == 405 and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return problem(status, error.name, error.description or error.name, headers=headers)


def handle_known_error(error: webhook_errors.ServiceError) -> Response:
    for cls, status, slug, title in KNOWN_ERRORS:
        if isinstance(error, cls):
            return problem(status, title, error.detail, slug=slug, **error.extensions)
    return handle_unexpected(error)


def handle_operational_error(error: OperationalError) -> Response:
    """A database that is locked or unreachable is temporary: 503 with Retry-After."""
    log.warning("database unavailable: %s", error)
    return problem(503, "Service Unavailable", "The database is busy or unreachable; retry shortly.",
                   headers={"Retry-After": "1"})


def handle_unexpected(error: Exception) -> Response:
    log.exception("unhandled error in request %s", g.get("request_id"))
    return problem(500, "Internal Server Error",
                   "An unexpected error occurred; quote the instance id when reporting it.")


def register_problem_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(webhook_errors.ServiceError, handle_known_error)
    app.register_error_handler(OperationalError, handle_operational_error)
    app.register_error_handler(Exception, handle_unexpected)
