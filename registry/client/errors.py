"""Errors as typed exceptions, built from the server's problem+json."""
from __future__ import annotations

import requests


class ModelyardError(Exception):
    """An error answer from the server; `problem` is its RFC 9457 body."""

    def __init__(self, status: int, problem: dict) -> None:
        self.status, self.problem = status, problem
        self.title = problem.get("title") or f"HTTP {status}"
        self.detail = problem.get("detail") or ""
        self.type = problem.get("type", "")
        super().__init__(f"{self.title}: {self.detail}" if self.detail else self.title)

class BadRequest(ModelyardError):
    """400, 413 or 422: the request itself is wrong; `problem['errors']` names the fields."""

class Unauthorized(ModelyardError):
    """401: no token, or an unknown or revoked one."""

class Forbidden(ModelyardError):
    """403: the token's role is too low; `problem['required_role']` says which is needed."""

class NotFound(ModelyardError):
    """404: no such model, version, stage holder, webhook, report..."""

class Conflict(ModelyardError):
    """409: the request conflicts with the current state (e.g. no rollback target)."""

class PreconditionFailed(Conflict):
    """412: a compare-and-set lost: the stage moved; `current_version` is where it is now."""

    @property
    def current_version(self) -> int | None:
        return self.problem.get("current_version")

class CriteriaNotMet(ModelyardError):
    """422 criteria-not-met: `evaluation` holds each rule's result and message."""

    @property
    def evaluation(self) -> dict:
        return self.problem.get("evaluation", {})

class ServerError(ModelyardError):
    """5xx after the retries ran out."""

class ChecksumMismatch(Exception):
    """A downloaded file's sha256 is not the one the registry recorded; the file was not kept."""

def error_for(response: requests.Response) -> ModelyardError:
    try:
        problem = response.json()
        if not isinstance(problem, dict):
            raise ValueError
    except ValueError:
        problem = {"title": response.reason or f"HTTP {response.status_code}",
                   "detail": response.text[:500]}
    status = response.status_code
    if status == 422 and str(problem.get("type", "")).endswith("/criteria-not-met"):
        return CriteriaNotMet(status, problem)
    kind = {401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
            412: PreconditionFailed}.get(status)
    if kind is None:
        kind = ServerError if status >= 500 else BadRequest
    return kind(status, problem)
