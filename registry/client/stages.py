"""A model's stages: declare and remove them, promote, roll back, and who held a stage when."""
from __future__ import annotations

import uuid
from types import EllipsisType

from registry.client.transport import quote as _quote


class StagesAPI:
    """Declared stages, promotion, rollback, the holder of a stage and its history."""

    def list_stages(self, model: str) -> list[dict]:
        """Built-ins first, then declared stages: name, settings and holder (version, since)."""
        return self._get(f"/models/{_quote(model)}/stages")["items"]

    def declare_stage(self, model: str, name: str, *, description: str = "",
                      requires_admin: bool = False, on_degraded: str | None = None) -> dict:
        """Declare a stage (admin); raises Conflict when it exists, BadRequest for a
        malformed or reserved name."""
        return self._send("POST", f"/models/{_quote(model)}/stages",
                          {"name": name, "description": description,
                           "requires_admin": requires_admin, "on_degraded": on_degraded})

    def remove_stage(self, model: str, name: str) -> None:
        """Remove a declared stage (admin); raises Conflict while a version holds it."""
        self._send("DELETE", f"/models/{_quote(model)}/stages/{_quote(name)}")

    def promote(self, model: str, version: int, *, stage: str = "production",
                reason: str | None = None, force: bool = False, dry_run: bool = False,
                expected_current_version: int | None | EllipsisType = ...,
                idempotency_key: str | None = None, imported_from: str | None = None) -> dict:
        """Promote if the version meets the stage's criteria; raises CriteriaNotMet (with the
        evaluation), PreconditionFailed when `expected_current_version` is stale, Conflict.
        `imported_from` (with force and a reason) records a move another registry made."""
        body = {"version": int(version), "stage": stage, "force": force, "dry_run": dry_run}
        if imported_from:
            body["imported_from"] = imported_from
        if reason:
            body["reason"] = reason
        if expected_current_version is not ...:
            body["expected_current_version"] = expected_current_version
        return self._send("POST", f"/models/{_quote(model)}/promote", body,
                          key=None if dry_run else idempotency_key or str(uuid.uuid4()))

    def rollback(self, model: str, *, stage: str = "production", to_version: int | None = None,
                 reason: str | None = None, dry_run: bool = False,
                 expected_current_version: int | None | EllipsisType = ...,
                 idempotency_key: str | None = None) -> dict:
        """Return the stage to the previous good version (or `to_version`) in one call;
        raises Conflict when no version qualifies, PreconditionFailed when stale."""
        body: dict = {"stage": stage, "dry_run": dry_run}
        for key, value in (("to_version", to_version), ("reason", reason)):
            if value is not None:
                body[key] = value
        if expected_current_version is not ...:
            body["expected_current_version"] = expected_current_version
        return self._send("POST", f"/models/{_quote(model)}/rollback", body,
                          key=None if dry_run else idempotency_key or str(uuid.uuid4()))

    def stage(self, model: str, stage: str) -> dict:
        """The stage's holder with its files (path, size, sha256, url), since and ETag."""
        return self._get(f"/models/{_quote(model)}/stages/{_quote(stage)}")

    def production(self, model: str) -> dict:
        return self._get(f"/models/{_quote(model)}/production")

    def history(self, model: str, *, stage: str | None = None, at: str | None = None,
                limit: int | None = None) -> list[dict] | dict:
        """Every stage move, newest first; with `at` (RFC 3339) the holder at that instant."""
        if at:
            return self._get(f"/models/{_quote(model)}/history", stage=stage or "production", at=at)
        return self._pages(f"/models/{_quote(model)}/history", limit, stage=stage)
