"""Alerts from monitoring about a model in a stage: recorded once, and under the model's
`on_alert: rollback` policy a firing alert rolls the stage back through the rollback service.

The same notification (fingerprint, startsAt, status) delivered again changes nothing again.
A holder that has not passed its criteria since it took the stage (the version a rollback just
restored, say) is not rolled back: one alert storm cannot walk a stage back through its
history, the rule scheduled re-evaluation follows too.
"""
from __future__ import annotations

import datetime as dt
import logging

from registry.db import write_transaction
from registry.domain import events
from registry.domain.errors import DomainError, InvalidInput
from registry.models import AlertReceipt
from registry.services.evaluations import verdicts_since_taking_stage
from registry.services.events import append_event
from registry.services.holders import stage_holder
from registry.services.lookup import find_model
from registry.services.stage_catalog import stage_rule
from registry.services.stages import Precondition, rollback
from registry.services.timefmt import utcnow
from registry.storage import ArtifactStore

log = logging.getLogger(__name__)
REASON_CHARS = 1000
NAME_CHARS = 256  # alert names and fingerprints are stored in columns of this width


def _decide(model, stage: str, status: str) -> tuple[str, int | None]:
    """(what the policy does, the holder to roll back from or None)."""
    if status != "firing":
        return "recorded", None
    if (model.on_alert or "notify") != "rollback":
        return "notify", None
    holder = stage_holder(model, stage)
    if holder is None:
        return f"no version holds {stage}", None
    if not any(verdicts_since_taking_stage(holder, stage)):
        return (f"not rolled back: version {holder.version} has not passed its {stage} "
                "criteria since it took the stage"), None
    return "rollback", holder.version


def receive_alert(model_name: str, *, name: str, status: str, store: ArtifactStore,
                  stage: str = "production", fingerprint: str | None = None,
                  starts_at: str = "", summary: str | None = None,
                  now: dt.datetime | None = None) -> dict:
    """Record an alert (event `alert.received`) and apply the model's `on_alert` policy: a
    firing alert under `rollback` rolls the stage back (actor `alert:<name>`, reason the
    summary) in its own transaction after the record, as a compare-and-set on the holder the
    alert was about. Returns what happened; `duplicate` when this notification was handled
    before. Raises ModelNotFound, UnknownStage, InvalidInput (a name or fingerprint longer than
    NAME_CHARS)."""
    now = now or utcnow()
    fingerprint = fingerprint or name
    for field, value in (("name", name), ("fingerprint", fingerprint)):
        if not value or len(value) > NAME_CHARS:
            raise InvalidInput(f"an alert's {field} has 1 to {NAME_CHARS} characters",
                               errors={field: [f"1 to {NAME_CHARS} characters"]})
    with write_transaction():
        model = find_model(model_name, for_update=True)
        stage_rule(model, stage)
        key = ((AlertReceipt.model == model) & (AlertReceipt.fingerprint == fingerprint)
               & (AlertReceipt.starts_at == starts_at) & (AlertReceipt.status == status))
        if AlertReceipt.select().where(key).exists():
            return {"model": model.name, "alert": name, "duplicate": True, "action": None}
        AlertReceipt.create(model=model, name=name, fingerprint=fingerprint,
                            starts_at=starts_at, status=status, at=now)
        action, from_version = _decide(model, stage, status)
        append_event(events.ALERT_RECEIVED, actor=f"alert:{name}", model=model.name,
                     stage=stage, now=now,
                     data={"alert": name, "fingerprint": fingerprint, "status": status,
                           "stage": stage, "summary": summary, "starts_at": starts_at,
                           "action": action})
    outcome = {"model": model_name, "alert": name, "duplicate": False, "action": action}
    if from_version is not None:
        outcome["rollback"] = _roll_back(model_name, stage, name, summary, from_version, store)
    return outcome


def receive_alertmanager(alerts: list[dict], *, store: ArtifactStore,
                         now: dt.datetime | None = None) -> list[dict]:
    """Alertmanager's alerts (webhook payload version 4), each handled by receive_alert with
    its labels `alertname`, `model` and `stage` (default production), its `summary` annotation,
    `startsAt` and `fingerprint`. An alert without a `model` label, or one the registry refuses
    (an unknown model or stage, a name too long), is listed as ignored with why: one bad alert
    never stops the others, and Alertmanager must not resend what was handled."""
    results = []
    for alert in alerts:
        labels = alert.get("labels") or {}
        model, name = labels.get("model"), labels.get("alertname", "alert")
        if not model:
            results.append({"alert": name, "ignored": "no `model` label"})
            continue
        try:
            results.append(receive_alert(
                model, store=store, name=name, status=alert["status"],
                stage=labels.get("stage", "production"), fingerprint=alert.get("fingerprint"),
                starts_at=alert.get("startsAt", ""),
                summary=(alert.get("annotations") or {}).get("summary"), now=now))
        except DomainError as refused:
            results.append({"alert": name[:NAME_CHARS], "model": model[:NAME_CHARS],
                            "ignored": refused.detail})
    return results


def _roll_back(model_name: str, stage: str, name: str, summary: str | None, from_version: int,
               store: ArtifactStore) -> dict:
    reason = (summary or f"alert {name} firing")[:REASON_CHARS]
    try:
        answer, _ = rollback(model_name, stage=stage, actor=f"alert:{name}", store=store,
                             reason=reason, is_admin=True,  # an admin's policy
                             precondition=Precondition(expect_given=True, expected=from_version))
    except DomainError as exc:
        log.warning("alert %s: rollback of %s %s did not happen: %s", name, model_name, stage,
                    exc.detail)
        return {"from_version": from_version, "error": exc.detail}
    return {"from_version": from_version, "to_version": answer["version"]}
