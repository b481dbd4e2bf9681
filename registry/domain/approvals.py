"""Four eyes on promotion: approval policies per stage, and who may approve what. Pure."""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from registry.domain.errors import Conflict, InvalidInput, SelfApproval

MAX_APPROVERS = 10
OPEN = "open"
STATUSES = ("open", "approved", "rejected", "cancelled", "expired", "stale")


def validate_policy(policy: Any, stages: Collection[str]) -> dict[str, dict]:
    """`{stage: {"required": N}}` for stages of the model, N from 0 (no approval) to
    MAX_APPROVERS; raises InvalidInput naming the bad key."""
    if not isinstance(policy, Mapping):
        raise InvalidInput("approvals must be an object of stage -> {required: N}",
                           errors={"approvals": ["must be an object"]})
    cleaned = {}
    for stage, setting in policy.items():
        if stage not in stages:
            raise InvalidInput(f"'{stage}' is not a stage of this model",
                               errors={f"approvals.{stage}": ["not a stage of this model"]})
        required = setting.get("required") if isinstance(setting, Mapping) else None
        if set(setting or {}) != {"required"} or not isinstance(required, int) \
                or isinstance(required, bool) or not 0 <= required <= MAX_APPROVERS:
            raise InvalidInput(f"approvals.{stage} must be {{\"required\": 0..{MAX_APPROVERS}}}",
                               errors={f"approvals.{stage}": [f"required: 0..{MAX_APPROVERS}"]})
        cleaned[stage] = {"required": required}
    return cleaned


def merged_policy(current: Mapping, change: Mapping) -> dict:
    """The policy after a change: a stage set to 0 needs no approval and is dropped."""
    merged = {**current, **change}
    return {stage: setting for stage, setting in merged.items() if setting["required"] > 0}


def check_can_approve(request_id: int, status: str, requester: str, approver: str) -> None:
    """Raises Conflict unless the request is open, SelfApproval when the approver is the
    requester (subjects compared: a person's other tokens are still that person)."""
    if status != OPEN:
        raise Conflict(f"promotion request {request_id} is {status}; only an open request can "
                       "be approved or rejected", request_status=status)
    if approver == requester:
        raise SelfApproval(f"{approver} requested this promotion and may not approve it; "
                           "another person must")
