"""The event feed, webhooks, tokens, audit, reports and schedules."""
from __future__ import annotations

from typing import Iterator

from registry.client.transport import quote as _quote


EVENT_PAGE = 1000

class EventsAPI:
    """Events and the administration around them."""

    def events(self, *, after: int = 0, model: str | None = None, type: str | None = None,
               follow: bool = False, wait: int = 30) -> Iterator[dict]:
        """Events after `after` in seq order; with `follow`, long-polls for new ones forever."""
        while True:
            items = self._get("/events", after=after, model=model, type=type, limit=EVENT_PAGE,
                              wait=wait if follow else 0)["items"]
            yield from items
            if items:
                after = items[-1]["seq"]
            if not follow and len(items) < EVENT_PAGE:
                return

    def create_webhook(self, url: str, events: list[str], *, models: list[str] | None = None,
                       description: str | None = None) -> dict:
        body = {"url": url, "events": events, "models": models}
        if description:
            body["description"] = description
        return self._send("POST", "/webhooks", body)

    def list_webhooks(self) -> list[dict]:
        return self._get("/webhooks")

    def get_webhook(self, webhook_id: int) -> dict:
        return self._get(f"/webhooks/{int(webhook_id)}")

    def update_webhook(self, webhook_id: int, **fields) -> dict:
        return self._send("PATCH", f"/webhooks/{int(webhook_id)}", fields)

    def delete_webhook(self, webhook_id: int) -> None:
        self._send("DELETE", f"/webhooks/{int(webhook_id)}")

    def test_webhook(self, webhook_id: int) -> dict:
        return self._send("POST", f"/webhooks/{int(webhook_id)}/test")

    def rotate_webhook_secret(self, webhook_id: int) -> dict:
        return self._send("POST", f"/webhooks/{int(webhook_id)}/rotate-secret")

    def deliveries(self, webhook_id: int, *, status: str | None = None,
                   limit: int | None = None) -> list[dict]:
        return self._pages(f"/webhooks/{int(webhook_id)}/deliveries", limit, status=status)

    def redeliver(self, delivery_id: int) -> dict:
        return self._send("POST", f"/deliveries/{int(delivery_id)}/redeliver")

    def create_token(self, name: str, role: str) -> dict:
        return self._send("POST", "/tokens", {"name": name, "role": role})

    def list_tokens(self) -> list[dict]:
        return self._get("/tokens")

    def revoke_token(self, token_id: int) -> dict:
        return self._send("DELETE", f"/tokens/{int(token_id)}")

    def audit(self, *, model: str | None = None, actor: str | None = None,
              action: str | None = None, since: str | None = None,
              limit: int | None = None) -> list[dict]:
        return self._pages("/audit", limit, model=model, actor=actor, action=action, since=since)

    def create_report(self, *, models: list[str] | None = None,
                      period_days: int | None = None) -> dict:
        body: dict = {}
        if models:
            body["models"] = models
        if period_days:
            body["period_days"] = period_days
        return self._send("POST", "/reports", body)

    def list_reports(self, *, limit: int | None = None) -> list[dict]:
        return self._pages("/reports", limit)

    def get_report(self, report_id: int, *, format: str = "json") -> dict | str:
        """The report as a dict (json), or the HTML page or CSV text."""
        response = self.request("GET", f"/reports/{int(report_id)}", params={"format": format})
        return response.json() if format == "json" else response.text

    def schedules(self) -> list[dict]:
        """Each scheduled job with its cron, next fire and last run."""
        return self._get("/schedules")

    def job_runs(self, job: str, *, limit: int = 50) -> list[dict]:
        return self._get(f"/schedules/{_quote(job)}/runs", limit=limit)
