"""Every event type the registry appends, each with what it means: the one list the code, the
documentation (docs/webhooks.md) and the tests read. An event's type names the mutation, past
tense, dotted (`model.rolled_back`)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    name: str
    doc: str

    def __str__(self) -> str:
        return self.name


MODEL_CREATED = EventType("model.created", "A model was registered.")
MODEL_UPDATED = EventType("model.updated", "A model's description, tags or settings changed.")
MODEL_DELETED = EventType("model.deleted", "A model and its versions were deleted.")
VERSION_CREATED = EventType("version.created", "A version was registered, status `pending`.")
VERSION_UPDATED = EventType("version.updated", "A version's description or tags changed.")
VERSION_FILE_UPLOADED = EventType("version.file_uploaded",
                                  "A file of a pending version was stored.")
VERSION_READY = EventType("version.ready", "A version was finalized; `data` carries the "
                          "evaluations finalize ran.")
METRICS_RECORDED = EventType("metrics.recorded", "Metric values were appended to a version.")
CRITERIA_UPDATED = EventType("criteria.updated", "A model's acceptance criteria changed.")
EVALUATION_COMPLETED = EventType("evaluation.completed", "An explicit evaluation was stored.")
STAGE_CHANGED = EventType("stage.changed", "A version was moved to `none` or `archived`.")
MODEL_PROMOTED = EventType("model.promoted", "A version entered a stage by promotion.")
MODEL_ROLLED_BACK = EventType("model.rolled_back", "A stage went back to an earlier holder; "
                              "`data` has `version`, `rolled_back_version` and `stage`.")
PRODUCTION_DEGRADED = EventType("production.degraded", "Scheduled re-evaluation found production "
                                "failing after it had passed there.")
STAGE_DEGRADED = EventType("stage.degraded", "Scheduled re-evaluation found a declared stage's "
                           "holder failing after it had passed there; `data.stage` names it.")
STAGE_DECLARED = EventType("stage.declared", "A model gained a declared stage (`data.stage`).")
STAGE_REMOVED = EventType("stage.removed", "A declared stage was removed; its history stays.")
PROMOTION_REQUESTED = EventType("promotion.requested", "A promotion request was opened; `data."
                                "request` has it, with its evaluation.")
PROMOTION_APPROVED = EventType("promotion.approved", "A subject approved a promotion request; the "
                               "approval that reaches `required` also promotes (`model.promoted`).")
PROMOTION_REJECTED = EventType("promotion.rejected", "A promotion request was rejected.")
PROMOTION_CANCELLED = EventType("promotion.cancelled", "A promotion request was withdrawn.")
PROMOTION_EXPIRED = EventType("promotion.expired", "A promotion request passed `approvals."
                              "ttl_hours` unapproved.")
PROMOTION_STALE = EventType("promotion.stale", "A request's last approval found the stage moved "
                            "since the request was made; nothing was promoted.")
DEPLOYMENT_REPORTED = EventType("deployment.reported", "A deployment target reported a new "
                                "version or state (heartbeats are not events).")
DEPLOYMENT_CONVERGED = EventType("deployment.converged", "Every target following a stage serves its "
                                 "holder after a move; `data` has `stage`, `version`, `move_seq`, "
                                 "`seconds`.")
DEPLOYMENT_LAGGING = EventType("deployment.lagging", "A target has not converged deploy."
                               "converge_timeout_s after a move, or was silent deploy."
                               "stale_after_s; once per move and target.")
ALERT_RECEIVED = EventType("alert.received", "A monitoring alert about a model arrived; `data."
                           "action` says what the model's on_alert policy did.")
REPORT_GENERATED = EventType("report.generated", "A manager report was stored; `data` has its "
                             "summary and a link to its page.")
TOKEN_CREATED = EventType("token.created", "An API token was created.")
TOKEN_REVOKED = EventType("token.revoked", "An API token was revoked.")
WEBHOOK_CREATED = EventType("webhook.created", "A webhook subscription was created.")
WEBHOOK_UPDATED = EventType("webhook.updated", "A webhook subscription changed.")
WEBHOOK_DELETED = EventType("webhook.deleted", "A webhook subscription was deleted.")
WEBHOOK_SECRET_ROTATED = EventType("webhook.secret_rotated", "A subscription's signing secret "
                                   "was rotated.")
WEBHOOK_TESTED = EventType("webhook.tested", "A test delivery was queued for a subscription.")
DELIVERY_REDELIVERED = EventType("delivery.redelivered", "A delivery was queued again.")

ALL: tuple[EventType, ...] = tuple(value for value in list(globals().values())
                                   if isinstance(value, EventType))
