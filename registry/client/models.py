"""Models, versions, metrics, criteria and evaluations."""
from __future__ import annotations

import uuid

from registry.client.errors import Conflict, NotFound
from registry.client.transport import quote as _quote


class ModelsAPI:
    """Models and their versions, with metrics, criteria and evaluations."""

    def list_models(self, *, q: str | None = None, tag: str | None = None,
                    stage: str | None = None, limit: int | None = None) -> list[dict]:
        return self._pages("/models", limit, q=q, tag=tag, stage=stage)

    def get_model(self, model: str) -> dict:
        return self._get(f"/models/{_quote(model)}")

    def create_model(self, name: str, *, description: str = "", tags: dict | None = None) -> dict:
        return self._send("POST", "/models", {"name": name, "description": description,
                                              "tags": tags or {}})

    def update_model(self, model: str, **fields) -> dict:
        """description, tags (None removes a tag), production_requires_admin, on_degraded."""
        return self._send("PATCH", f"/models/{_quote(model)}", fields)

    def delete_model(self, model: str) -> None:
        self._send("DELETE", f"/models/{_quote(model)}")

    def ensure_model(self, model: str) -> dict:
        """The model, created when it does not exist yet (a race with another creator is fine)."""
        try:
            return self.get_model(model)
        except NotFound:
            try:
                return self.create_model(model)
            except Conflict:
                return self.get_model(model)

    def create_version(self, model: str, *, run: dict | None = None,
                       idempotency_key: str | None = None, **fields) -> dict:
        """A pending version; fields: description, tags, source_uri, parent_version."""
        return self._send("POST", f"/models/{_quote(model)}/versions",
                          {**fields, "run": run or {}}, key=idempotency_key or str(uuid.uuid4()))

    def list_versions(self, model: str | None = None, *, filter: str | None = None,
                      order_by: str | None = None, stage: str | None = None,
                      status: str | None = None, limit: int | None = None) -> list[dict]:
        """One model's versions, or with no model a search across all of them."""
        path = f"/models/{_quote(model)}/versions" if model else "/versions"
        return self._pages(path, limit, filter=filter, order_by=order_by, stage=stage,
                           status=status)

    def get_version(self, model: str, version: int) -> dict:
        return self._get(f"/models/{_quote(model)}/versions/{int(version)}")

    def update_version(self, model: str, version: int, **fields) -> dict:
        return self._send("PATCH", f"/models/{_quote(model)}/versions/{int(version)}", fields)

    def finalize(self, model: str, version: int) -> dict:
        return self._send("POST", f"/models/{_quote(model)}/versions/{int(version)}/finalize")

    def set_stage(self, model: str, version: int, stage: str, *, reason: str | None = None) -> dict:
        """Move a version to `none` or `archived` (promote and rollback fill stages)."""
        return self._send("POST", f"/models/{_quote(model)}/versions/{int(version)}/stage",
                          {"stage": stage, **({"reason": reason} if reason else {})})

    def record_metrics(self, model: str, version: int, metrics: dict[str, float], *,
                       source: str = "evaluation", recorded_at: str | None = None) -> dict:
        body = {"metrics": metrics, "source": source}
        if recorded_at:
            body["recorded_at"] = recorded_at
        return self._send("POST", f"/models/{_quote(model)}/versions/{int(version)}/metrics", body)

    def metric_history(self, model: str, version: int, *, key: str | None = None,
                       source: str | None = None) -> list[dict]:
        return self._pages(f"/models/{_quote(model)}/versions/{int(version)}/metrics", None,
                           key=key, source=source)

    def get_criteria(self, model: str) -> dict:
        return self._get(f"/models/{_quote(model)}/criteria")

    def set_criteria(self, model: str, stages: dict[str, list[dict]]) -> dict:
        return self._send("PUT", f"/models/{_quote(model)}/criteria", {"stages": stages})

    def criteria_history(self, model: str) -> list[dict]:
        return self._pages(f"/models/{_quote(model)}/criteria/history")

    def evaluate(self, model: str, version: int, stage: str = "production") -> dict:
        return self._send("POST", f"/models/{_quote(model)}/versions/{int(version)}/evaluate",
                          {"stage": stage})

    def evaluations(self, model: str, version: int, *, stage: str | None = None) -> list[dict]:
        return self._pages(f"/models/{_quote(model)}/versions/{int(version)}/evaluations", None,
                           stage=stage)
