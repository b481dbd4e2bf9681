"""Promotion requests and their approvals (four eyes)."""
from __future__ import annotations

from registry.client.transport import quote as _quote


class ApprovalsAPI:
    """Ask for a promotion, approve, reject or cancel it, list what awaits approval."""

    def request_promotion(self, model: str, version: int, *, reason: str,
                          stage: str = "production") -> dict:
        """Open a request; raises Conflict when the stage needs no approval, CriteriaNotMet
        (with the evaluation) when the version does not meet the stage's criteria."""
        return self._send("POST", f"/models/{_quote(model)}/promotion-requests",
                          {"version": int(version), "stage": stage, "reason": reason})

    def list_requests(self, model: str | None = None, *, status: str | None = None,
                      limit: int | None = None) -> list[dict]:
        path = f"/models/{_quote(model)}/promotion-requests" if model else "/promotion-requests"
        return self._pages(path, limit, status=status)

    def get_request(self, request_id: int) -> dict:
        return self._get(f"/promotion-requests/{int(request_id)}")

    def approve(self, request_id: int, *, comment: str | None = None) -> dict:
        """Approve; raises Forbidden for your own request, Conflict when it is not open or you
        approved it already. The answer's status says whether this approval promoted
        (`approved`) or found the stage moved (`stale`)."""
        return self._send("POST", f"/promotion-requests/{int(request_id)}/approve",
                          {"comment": comment})

    def reject(self, request_id: int, *, comment: str) -> dict:
        return self._send("POST", f"/promotion-requests/{int(request_id)}/reject",
                          {"comment": comment})

    def cancel(self, request_id: int) -> dict:
        return self._send("POST", f"/promotion-requests/{int(request_id)}/cancel")
