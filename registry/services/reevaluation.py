"""Scheduled re-evaluation of every stage holder, and what happens when production or a
declared stage degrades."""
from __future__ import annotations

import datetime as dt
import logging

from registry.db import write_transaction
from registry.domain import events
from registry.domain.errors import DomainError, ModelNotFound
from registry.models import RegisteredModel, StageHolder
from registry.services.evaluations import SCHEDULER, evaluate_row, verdicts_since_taking_stage
from registry.services.events import append_event
from registry.services.holders import holders_of, stage_order
from registry.services.lookup import find_model
from registry.services.stage_catalog import stage_rule
from registry.services.stages import Precondition, rollback
from registry.services.timefmt import utcnow
from registry.storage import ArtifactStore

log = logging.getLogger(__name__)
REASON_CHARS = 1000


def _failures(evaluation: dict) -> list[str]:
    return [result["message"] for result in evaluation["results"] if not result["passed"]]


def reevaluate_model(name: str, *, store: ArtifactStore, now: dt.datetime | None = None) -> dict:
    """Evaluate every held stage's holder now and store each (trigger `scheduled`), under the
    model's lock.

    Staging is only evaluated. When production or a declared stage fails and its holder's
    previous evaluation there since it took the stage passed (or it has none), the event
    `production.degraded` (`stage.degraded` for a declared stage) commits with the evaluation.
    Under the stage's `on_degraded: rollback` policy (a declared stage's own, or the model's)
    a holder that passed since taking the stage and fails now is then rolled back by the
    rollback service (actor `scheduler`, the failed evaluation as reason); a holder that never
    passed there, such as the version a rollback just restored, is not, so one bad night
    cannot walk a stage back through its history. Returns what was done; raises ModelNotFound
    when the model is gone.
    """
    now = now or utcnow()
    outcome: dict = {"model": name, "evaluations": {}, "degraded": False}
    rollbacks_due = []
    with write_transaction():
        model = find_model(name, for_update=True)
        held = sorted(holders_of([model.id]).items(), key=lambda item: stage_order(item[0][1]))
        for (_, stage), holder in held:
            earlier = verdicts_since_taking_stage(holder, stage)
            view = evaluate_row(model, holder, stage, trigger="scheduled", actor=SCHEDULER, now=now)
            outcome["evaluations"][stage] = {"version": holder.version, "id": view["id"],
                                             "passed": view["passed"]}
            if stage == "staging" or view["passed"]:
                continue
            policy = stage_rule(model, stage).on_degraded
            rolling_back = policy == "rollback" and any(earlier)
            if rolling_back:
                rollbacks_due.append(view)
            if not earlier or earlier[0]:
                outcome["degraded"] = True
                append_event(events.PRODUCTION_DEGRADED if stage == "production"
                             else events.STAGE_DEGRADED, actor=SCHEDULER, model=model.name,
                             version=holder.version, now=now, stage=stage,
                             data={"stage": stage, "version": holder.version,
                                   "on_degraded": policy, "rolling_back": rolling_back,
                                   "failed": _failures(view), "evaluation": view})
    outcome["rollbacks"] = [_roll_back(name, view, store=store) for view in rollbacks_due]
    return outcome


def _roll_back(name: str, evaluation: dict, *, store: ArtifactStore) -> dict:
    """Roll the evaluation's stage back from the version it failed; the compare-and-set on that
    version keeps a promotion made meanwhile by a person from being undone."""
    stage = evaluation["stage"]
    reason = (f"automatic rollback: scheduled evaluation {evaluation['id']} of version "
              f"{evaluation['version']} failed: {' '.join(_failures(evaluation))}")[:REASON_CHARS]
    try:
        answer, _ = rollback(name, stage=stage, actor=SCHEDULER, store=store, reason=reason,
                             evaluation_id=evaluation["id"], is_admin=True,  # an admin's policy
                             precondition=Precondition(expect_given=True,
                                                       expected=evaluation["version"]))
    except DomainError as exc:
        log.warning("automatic rollback of %s %s from version %s did not happen: %s", name,
                    stage, evaluation["version"], exc.detail)
        return _which(stage) | {"from_version": evaluation["version"], "error": exc.detail}
    return _which(stage) | {"from_version": evaluation["version"], "to_version": answer["version"]}


def _which(stage: str) -> dict:
    """Outcomes name the stage rolled back unless it is production (the default)."""
    return {} if stage == "production" else {"stage": stage}


def reevaluate_all(*, store: ArtifactStore, now: dt.datetime | None = None) -> dict:
    """Re-evaluate every model that has a stage holder, one transaction per model (see
    reevaluate_model). One model's failure is logged and listed under `errors`; the others are
    still evaluated. Returns counts and the models degraded or rolled back."""
    names = [name for (name,) in
             RegisteredModel.select(RegisteredModel.name)
             .where(RegisteredModel.id.in_(StageHolder.select(StageHolder.model)))
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
        for rolled in outcome["rollbacks"]:
            key = "rollback_failed" if "error" in rolled else "rolled_back"
            summary[key].append({"model": name, **rolled})
    return summary
