"""Scheduled re-evaluation of every stage holder, and what happens when production degrades."""
from __future__ import annotations

import datetime as dt
import logging

from registry.db import write_transaction
from registry.domain import events
from registry.domain.errors import DomainError, ModelNotFound
from registry.domain.stages import HELD_STAGES
from registry.models import ModelVersion, RegisteredModel
from registry.services.evaluations import (SCHEDULER, evaluate_row, stage_holder,
                                           verdicts_since_taking_stage)
from registry.services.events import append_event
from registry.services.lookup import find_model
from registry.services.stages import Precondition, rollback
from registry.services.timefmt import utcnow
from registry.storage import ArtifactStore

log = logging.getLogger(__name__)
REASON_CHARS = 1000


def _failures(evaluation: dict) -> list[str]:
    return [result["message"] for result in evaluation["results"] if not result["passed"]]


def reevaluate_model(name: str, *, store: ArtifactStore, now: dt.datetime | None = None) -> dict:
    """Evaluate the model's staging and production holders now and store both (trigger
    `scheduled`), under the model's lock.

    When production fails and its previous evaluation since it took the stage passed (or it has
    none), the event `production.degraded` commits with the evaluation. Under the model's
    `on_degraded: rollback` policy a production holder that passed since taking the stage and
    fails now is then rolled back by the rollback service (actor `scheduler`, the failed
    evaluation as reason); a holder that never passed there, such as the version a rollback
    just restored, is not, so one bad night cannot walk production back through its history.
    Returns what was done; raises ModelNotFound when the model is gone.
    """
    now = now or utcnow()
    outcome: dict = {"model": name, "evaluations": {}, "degraded": False}
    rollback_due = None
    with write_transaction():
        model = find_model(name, for_update=True)
        for stage in HELD_STAGES:
            holder = stage_holder(model, stage)
            if holder is None:
                continue
            earlier = verdicts_since_taking_stage(holder, stage)
            view = evaluate_row(model, holder, stage, trigger="scheduled", actor=SCHEDULER, now=now)
            outcome["evaluations"][stage] = {"version": holder.version, "id": view["id"],
                                             "passed": view["passed"]}
            if stage != "production" or view["passed"]:
                continue
            if model.on_degraded == "rollback" and any(earlier):
                rollback_due = view
            if not earlier or earlier[0]:
                outcome["degraded"] = True
                append_event(events.PRODUCTION_DEGRADED, actor=SCHEDULER, model=model.name,
                             version=holder.version, now=now,
                             data={"stage": stage, "version": holder.version,
                                   "on_degraded": model.on_degraded,
                                   "rolling_back": rollback_due is not None,
                                   "failed": _failures(view), "evaluation": view})
    if rollback_due is not None:
        outcome["rollback"] = _roll_back(name, rollback_due, store=store)
    return outcome


def _roll_back(name: str, evaluation: dict, *, store: ArtifactStore) -> dict:
    """Roll production back from the version `evaluation` failed; the compare-and-set on that
    version keeps a promotion made meanwhile by a person from being undone."""
    reason = (f"automatic rollback: scheduled evaluation {evaluation['id']} of version "
              f"{evaluation['version']} failed: {' '.join(_failures(evaluation))}")[:REASON_CHARS]
    try:
        answer, _ = rollback(name, actor=SCHEDULER, store=store, reason=reason,
                             evaluation_id=evaluation["id"], is_admin=True,  # an admin's policy
                             precondition=Precondition(expect_given=True,
                                                       expected=evaluation["version"]))
    except DomainError as exc:
        log.warning("automatic rollback of %s from version %s did not happen: %s", name,
                    evaluation["version"], exc.detail)
        return {"from_version": evaluation["version"], "error": exc.detail}
    return {"from_version": evaluation["version"], "to_version": answer["version"]}


def reevaluate_all(*, store: ArtifactStore, now: dt.datetime | None = None) -> dict:
    """Re-evaluate every model that has a staging or production holder, one transaction per
    model (see reevaluate_model). One model's failure is logged and listed under `errors`; the
    others are still evaluated. Returns counts and the models degraded or rolled back."""
    names = [name for (name,) in
             RegisteredModel.select(RegisteredModel.name).join(ModelVersion)
             .where(ModelVersion.stage.in_(HELD_STAGES)).distinct()
             .order_by(RegisteredModel.name).tuples()]
    summary = {"models": 0, "evaluations": 0, "failing": [], "degraded": [], "rolled_back": [],
               "rollback_failed": [], "errors": []}
    for name in names:
        try:
            outcome = reevaluate_model(name, store=store, now=now)
        except ModelNotFound:  # deleted since the list was read
            continue
        except Exception as exc:  # noqa: BLE001 - one model must not stop the others
            log.exception("re-evaluating %s failed", name)
            summary["errors"].append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        summary["models"] += 1
        summary["evaluations"] += len(outcome["evaluations"])
        production = outcome["evaluations"].get("production")
        if production and not production["passed"]:
            summary["failing"].append(name)
        if outcome["degraded"]:
            summary["degraded"].append(name)
        if "rollback" in outcome:
            key = "rollback_failed" if "error" in outcome["rollback"] else "rolled_back"
            summary[key].append({"model": name, **outcome["rollback"]})
    return summary
