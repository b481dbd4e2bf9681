"""The console's two production-changing actions, each in two steps: a preview that is the
service's dry run (what will happen, nothing written), then a confirm that carries the holder
the preview showed, so a page someone else made stale gets the 412 conflict instead of a move.
"""
from __future__ import annotations

from flask import current_app, flash, g, redirect, request, url_for

from registry.console.blueprint import NUMBER, blp, can, page, require
from registry.domain.errors import ApprovalRequired, CriteriaNotMet, StaleVersion
from registry.services import approvals as approval_service
from registry.services import stage_catalog
from registry.services import stages as stage_service

MOVER = "deployer"
REQUEST = "<int(min=1, max=2147483647):request_id>"


def _stage() -> str:
    return request.values.get("stage", "production")


def _expected() -> stage_service.Precondition:
    """The holder the preview showed ("" for an empty stage): the confirm's compare-and-set."""
    shown = request.form.get("expected_current_version", "")
    return stage_service.Precondition(expect_given=True,
                                      expected=int(shown) if shown.isdigit() else None)


def _mover(**extra) -> dict:
    return {"actor": g.actor, "is_admin": can("admin"), **extra}


def _store():
    return current_app.extensions["modelyard_store"]


@blp.route("/models/<string:model>/rollback", methods=["GET"])
def rollback_preview(model):
    """What a rollback of the stage would do now: from which version to which, what it skips."""
    require(MOVER)
    plan, _ = stage_service.rollback(model, stage=_stage(), store=_store(), dry_run=True,
                                     **_mover())
    inline = request.headers.get("HX-Request") == "true"  # into the model page's stage card
    return page("_rollback_plan.html" if inline else "rollback.html", model=model, plan=plan)


@blp.route("/models/<string:model>/rollback", methods=["POST"])
def rollback(model):
    """Roll back, if the stage still has the holder the preview showed."""
    require(MOVER)
    reason = request.form.get("reason", "").strip()
    if not reason:
        return _rollback_again(model, "Say why: the reason goes into the history and the event.",
                               422)
    try:
        done, _ = stage_service.rollback(model, stage=_stage(), store=_store(), reason=reason,
                                         precondition=_expected(), **_mover())
    except StaleVersion as stale:
        return page("conflict.html", 412, model=model, stage=_stage(), message=stale.detail)
    flash(f"{done['stage']} of {model} rolled back from version {done['rolled_back_version']} "
          f"to version {done['version']}.")
    return redirect(url_for("console.model_page", model=model), 303)


def _rollback_again(model: str, error: str, status: int):
    plan, _ = stage_service.rollback(model, stage=_stage(), store=_store(), dry_run=True,
                                     **_mover())
    return page("rollback.html", status, model=model, plan=plan, error=error)


def _dry_promotion(model: str, number: int) -> tuple[dict | None, dict | None, bool]:
    """(the dry run's answer, None, False) when the criteria pass, (None, the failed evaluation,
    False) when they do not, (None, None, True) when the stage takes approved requests only."""
    try:
        answer, _ = stage_service.promote(model, number, stage=_stage(), dry_run=True, **_mover())
        return answer, None, False
    except CriteriaNotMet as refused:
        return None, refused.extensions["evaluation"], False
    except ApprovalRequired:
        return None, None, True


@blp.route(f"/models/<string:model>/versions/{NUMBER}/promote", methods=["GET"])
def promote_preview(model, number):
    """The version's evaluation for the stage, rule by rule, before anything moves."""
    require(MOVER)
    answer, failed, needs_approval = _dry_promotion(model, number)
    return page("promote.html", model=model, number=number, stage=_stage(), answer=answer,
                failed=failed, needs_approval=needs_approval, current=_current_holder(model))


@blp.route(f"/models/<string:model>/versions/{NUMBER}/request", methods=["POST"])
def request_promotion(model, number):
    """Open a promotion request for a stage that needs approvals."""
    require(MOVER)
    try:
        done = approval_service.request_promotion(
            model, number, stage=_stage(), reason=request.form.get("reason", "").strip(),
            actor=g.actor, subject=g.subject,
            ttl_hours=current_app.config["MODELYARD"]["approvals"]["ttl_hours"])
    except CriteriaNotMet as refused:
        return page("promote.html", 422, model=model, number=number, stage=_stage(),
                    answer=None, failed=refused.extensions["evaluation"], needs_approval=False,
                    current=_current_holder(model))
    flash(f"Request {done['id']} opened: {done['required']} approval(s) needed from someone "
          "else.")
    return redirect(url_for("console.model_page", model=model), 303)


def _current_holder(model: str) -> int | None:
    """The version holding the stage now (None: empty): what the confirm expects."""
    return next((item["holder"]["version"] for item in stage_catalog.list_stages(model)["items"]
                 if item["name"] == _stage() and item["holder"]), None)


@blp.route(f"/models/<string:model>/versions/{NUMBER}/promote", methods=["POST"])
def promote(model, number):
    """Promote if the stage still has the holder the preview showed; forcing needs an admin
    and a reason."""
    require(MOVER)
    force = request.form.get("force") == "on"  # the service refuses it without admin
    reason = request.form.get("reason", "").strip() or None
    try:
        done, _ = stage_service.promote(model, number, stage=_stage(), reason=reason, force=force,
                                        precondition=_expected(), **_mover())
    except StaleVersion as stale:
        return page("conflict.html", 412, model=model, stage=_stage(), message=stale.detail)
    except CriteriaNotMet as refused:
        return page("promote.html", 422, model=model, number=number, stage=_stage(),
                    answer=None, failed=refused.extensions["evaluation"], needs_approval=False,
                    current=_current_holder(model))
    flash(f"{model} version {number} promoted to {done['stage']}"
          + (" (forced)." if done["forced"] else "."))
    return redirect(url_for("console.model_page", model=model), 303)


@blp.route(f"/promotion-requests/{REQUEST}/<any(approve, reject):decision>", methods=["POST"])
def decide(request_id, decision):
    """Approve (the last approval needed promotes) or reject a promotion request."""
    require(MOVER)
    comment = request.form.get("comment", "").strip()
    if decision == "reject":
        done = approval_service.reject(request_id, actor=g.actor, subject=g.subject,
                                       comment=comment or "rejected in the console")
        flash(f"Request {request_id} rejected.")
    else:
        done = approval_service.approve(request_id, actor=g.actor, subject=g.subject,
                                        comment=comment or None)
        flash({"approved": f"Request {request_id} approved: {done['model']} version "
                           f"{done['version']} is now in {done['stage']}.",
               "stale": f"Request {request_id} approved, but {done['stage']} moved since it "
                        "was made: it is stale and nothing was promoted."}.get(
            done["status"], f"Request {request_id} approved ({len(done['approvals'])} of "
                            f"{done['required']})."))
    return redirect(url_for("console.model_page", model=done["model"]), 303)
