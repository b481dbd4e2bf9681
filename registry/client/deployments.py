"""What serves where (deployment targets) and alerts, through the API."""
from __future__ import annotations

from registry.client.transport import quote as _quote


class DeploymentsAPI:
    """Report what a target serves, read desired against actual, send alerts."""

    def report_deployment(self, model: str, target: str, *, version: int | None, state: str,
                          stage: str = "production", detail: str | None = None) -> dict:
        """`state`: pending, serving or failed; the same report again is a heartbeat."""
        return self._send("PUT", f"/models/{_quote(model)}/deployments/{_quote(target)}",
                          {"stage": stage, "version": version, "state": state, "detail": detail})

    def deployments(self, model: str | None = None, *,
                    converged: bool | None = None) -> list[dict]:
        """Targets with desired_version next to the version they serve."""
        if model:
            return self._get(f"/models/{_quote(model)}/deployments")["items"]
        flag = None if converged is None else str(converged).lower()
        return self._get("/deployments", converged=flag)["items"]

    def forget_deployment(self, model: str, target: str) -> None:
        self._send("DELETE", f"/models/{_quote(model)}/deployments/{_quote(target)}")

    def send_alert(self, model: str, name: str, *, status: str = "firing",
                   stage: str = "production", summary: str | None = None,
                   fingerprint: str | None = None, starts_at: str = "") -> dict:
        """An alert about `model` in `stage`; the model's on_alert policy decides."""
        body = {"name": name, "status": status, "stage": stage, "summary": summary,
                "starts_at": starts_at, **({"fingerprint": fingerprint} if fingerprint else {})}
        return self._send("POST", f"/models/{_quote(model)}/alerts", body)
