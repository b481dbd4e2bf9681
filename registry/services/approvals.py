"""Promotion requests with separation of duties.

A stage with `approvals.required: N` takes promotions only through requests. A request carries
the evaluation it was made with and the holder it saw; N distinct subjects other than the
requester approve it, and the approval that reaches N promotes in its own transaction as a
compare-and-set on that holder (a stage that moved meanwhile makes the request `stale`; nothing
moves). Every step locks the model row first, as stage moves do, so approvals of one request
serialise and exactly one of any number of racing approvals promotes.
"""
from __future__ import annotations

import datetime as dt
import logging

from peewee import IntegrityError

from registry.db import write_transaction
from registry.domain import events
from registry.domain.approvals import OPEN, check_can_approve
from registry.domain.errors import (Conflict, CriteriaNotMet, Forbidden, InvalidInput,
                                    RequestNotFound)
from registry.domain.stages import Holding, check_promotable
from registry.models import Approval, ModelVersion, PromotionRequest, RegisteredModel
from registry.services.evaluations import evaluate_row, save_evaluation
from registry.services.events import append_event
from registry.services.holders import stage_holder
from registry.services.lookup import find_model, find_version
from registry.services.pages import Page, newest_first
from registry.services.stage_catalog import stage_rule
from registry.services.stages import approvals_required, promote_approved
from registry.services.timefmt import rfc3339, utcnow

log = logging.getLogger(__name__)


def _view(request: PromotionRequest, model_name: str, number: int) -> dict:
    approvals = (Approval.select().where(Approval.request == request).order_by(Approval.id))
    return {"id": request.id, "model": model_name, "version": number, "stage": request.stage,
            "status": request.status, "requested_by": request.requested_by,
            "requester_subject": request.requester_subject, "reason": request.reason,
            "evaluation": request.evaluation, "required": request.required,
            "approvals": [{"subject": a.subject, "actor": a.actor, "comment": a.comment,
                           "at": rfc3339(a.at)} for a in approvals],
            "expected_current_version": request.expected_current_version,
            "created_at": rfc3339(request.created_at), "expires_at": rfc3339(request.expires_at),
            "decided_at": rfc3339(request.decided_at), "decided_by": request.decided_by,
            "comment": request.comment}


def _view_of(request: PromotionRequest) -> dict:
    names = (ModelVersion.select(RegisteredModel.name, ModelVersion.version)
             .join(RegisteredModel).where(ModelVersion.id == request.version_id).tuples().get())
    return _view(request, *names)


def request_promotion(model_name: str, number: int, *, stage: str, reason: str, actor: str,
                      subject: str, ttl_hours: float, now: dt.datetime | None = None) -> dict:
    """Open a request to promote a version into a stage that needs approvals.

    The version must be promotable and pass the stage's criteria now; that evaluation is
    stored with the request, with the holder the request saw. The request and the event
    `promotion.requested` commit together. Raises InvalidInput (no reason), ModelNotFound,
    VersionNotFound, UnknownStage, Conflict (the stage needs no approval), StageConflict,
    CriteriaNotMet (with the evaluation).
    """
    if not reason.strip():
        raise InvalidInput("say why: the approvers read the reason",
                           errors={"reason": ["required"]})
    now = now or utcnow()
    with write_transaction():
        model = find_model(model_name, for_update=True)
        stage_rule(model, stage)
        required = approvals_required(model, stage)
        if not required:
            raise Conflict(f"{stage} of '{model.name}' needs no approval: promote directly")
        row = find_version(model, number)
        holder = stage_holder(model, stage)
        check_promotable(Holding(row.version, row.status, row.stage, row.rolled_back, frozenset(
            [stage] if holder and holder.id == row.id else [])), stage)
        evaluation = evaluate_row(model, row, stage, trigger="request", actor=actor, now=now,
                                  store=False)
        if not evaluation["passed"]:
            raise CriteriaNotMet(f"version {number} does not meet the {stage} criteria, so it "
                                 "cannot be put up for approval", evaluation=evaluation)
        save_evaluation(row, evaluation, now=now)
        request = PromotionRequest.create(
            model=model, version=row, stage=stage, status=OPEN, requested_by=actor,
            requester_subject=subject, reason=reason, evaluation=evaluation, required=required,
            expected_current_version=holder.version if holder else None, created_at=now,
            expires_at=now + dt.timedelta(hours=ttl_hours))
        view = _view(request, model.name, number)
        append_event(events.PROMOTION_REQUESTED, actor=actor, model=model.name, version=number,
                     stage=stage, now=now, data={"request": view})
    return view


def _locked(request_id: int) -> tuple[PromotionRequest, RegisteredModel]:
    """The request, read again after its model's row is locked (so its status is current)."""
    found = PromotionRequest.get_or_none(PromotionRequest.id == request_id)
    if found is None:
        raise RequestNotFound(f"promotion request {request_id} does not exist")
    model = find_model(RegisteredModel.get_by_id(found.model_id).name, for_update=True)
    return PromotionRequest.get_by_id(request_id), model


def approve(request_id: int, *, actor: str, subject: str, comment: str | None = None,
            now: dt.datetime | None = None) -> dict:
    """Approve an open request as `subject`; the approval that reaches `required` promotes.

    One transaction: the approval, the event `promotion.approved` and, when it completes the
    request, either the promotion (history row, event `model.promoted`, status `approved`) if
    the stage still has the holder the request saw, or status `stale` (event `promotion.stale`)
    with nothing moved. Raises RequestNotFound, SelfApproval (the requester's subject), Conflict
    (not open, e.g. expired; already approved by this subject)."""
    now = now or utcnow()
    _expire_if_due(request_id, now)
    try:
        with write_transaction():
            request, model = _locked(request_id)
            check_can_approve(request.id, request.status, request.requester_subject, subject)
            Approval.create(request=request, subject=subject, actor=actor, comment=comment, at=now)
            subjects = [s for (s,) in Approval.select(Approval.subject)
                        .where(Approval.request == request).order_by(Approval.id).tuples()]
            row = ModelVersion.get_by_id(request.version_id)
            append_event(events.PROMOTION_APPROVED, actor=actor, model=model.name,
                         version=row.version, stage=request.stage, now=now,
                         data={"request_id": request.id, "subject": subject, "comment": comment,
                               "approvals": len(subjects), "required": request.required})
            if len(subjects) >= request.required:
                _conclude(request, model, row, subjects, actor=actor, now=now)
            return _view(request, model.name, row.version)
    except IntegrityError:  # the unique (request, subject) index; the lock makes it rare
        raise Conflict(f"{subject} has already approved request {request_id}") from None


def _conclude(request: PromotionRequest, model: RegisteredModel, row: ModelVersion,
              subjects: list[str], *, actor: str, now: dt.datetime) -> None:
    """The last approval: promote if the stage still has the holder the request saw."""
    holder = stage_holder(model, request.stage)
    current = holder.version if holder else None
    request.decided_at, request.decided_by = now, actor
    if current != request.expected_current_version:
        request.status = "stale"
        request.save()
        append_event(events.PROMOTION_STALE, actor=actor, model=model.name, version=row.version,
                     stage=request.stage, now=now,
                     data={"request_id": request.id, "expected_current_version":
                           request.expected_current_version, "current_version": current})
        return
    promote_approved(model, row, request.stage, holder, actor=actor,
                     reason=f"promotion request {request.id}: {request.reason}",
                     evaluation_id=request.evaluation["id"], request_id=request.id,
                     approved_by=subjects, now=now)
    request.status = "approved"
    request.save()


def _close(request_id: int, status: str, event: events.EventType, *, actor: str, subject: str,
           comment: str | None, is_admin: bool, now: dt.datetime | None) -> dict:
    now = now or utcnow()
    with write_transaction():
        request, model = _locked(request_id)
        if status == "cancelled" and subject != request.requester_subject and not is_admin:
            raise Forbidden("only the requester or an admin may cancel a request",
                            required_role="admin")
        if request.status != OPEN:
            raise Conflict(f"promotion request {request.id} is {request.status}",
                           request_status=request.status)
        request.status, request.decided_at, request.decided_by = status, now, actor
        request.comment = comment
        request.save()
        view = _view_of(request)
        append_event(event, actor=actor, model=model.name, version=view["version"],
                     stage=request.stage, now=now,
                     data={"request_id": request.id, "comment": comment})
    return view


def reject(request_id: int, *, actor: str, subject: str, comment: str,
           now: dt.datetime | None = None) -> dict:
    """Close an open request as rejected (event `promotion.rejected`); raises RequestNotFound,
    Conflict when it is not open."""
    return _close(request_id, "rejected", events.PROMOTION_REJECTED, actor=actor,
                  subject=subject, comment=comment, is_admin=False, now=now)


def cancel(request_id: int, *, actor: str, subject: str, is_admin: bool,
           now: dt.datetime | None = None) -> dict:
    """The requester (or an admin) withdraws an open request (event `promotion.cancelled`);
    raises RequestNotFound, Forbidden, Conflict when it is not open."""
    return _close(request_id, "cancelled", events.PROMOTION_CANCELLED, actor=actor,
                  subject=subject, comment=None, is_admin=is_admin, now=now)


def _expire_if_due(request_id: int, now: dt.datetime) -> bool:
    """Expire one request past its `expires_at` (event `promotion.expired`); True if it did."""
    with write_transaction():
        request, model = _locked(request_id)
        if request.status != OPEN or request.expires_at > now:
            return False
        request.status, request.decided_at, request.decided_by = "expired", now, "scheduler"
        request.save()
        append_event(events.PROMOTION_EXPIRED, actor="scheduler", model=model.name,
                     version=_view_of(request)["version"], stage=request.stage, now=now,
                     data={"request_id": request.id, "expires_at": rfc3339(request.expires_at)})
    return True


def expire_due(*, now: dt.datetime | None = None) -> dict:
    """The scheduler's sweep: every open request past its `expires_at` becomes `expired`, one
    transaction each. Returns how many."""
    now = now or utcnow()
    due = [request_id for (request_id,) in PromotionRequest.select(PromotionRequest.id)
           .where((PromotionRequest.status == OPEN) & (PromotionRequest.expires_at <= now))
           .tuples()]
    return {"expired": sum(_expire_if_due(request_id, now) for request_id in due)}


def get_request(request_id: int) -> dict:
    """Raises RequestNotFound."""
    request = PromotionRequest.get_or_none(PromotionRequest.id == request_id)
    if request is None:
        raise RequestNotFound(f"promotion request {request_id} does not exist")
    return _view_of(request)


def list_requests(model_name: str | None = None, *, status: str | None = None, limit: int = 50,
                  cursor: str | None = None) -> Page:
    """Requests newest first, of one model or all, optionally by status; raises
    ModelNotFound, InvalidInput (cursor)."""
    query = PromotionRequest.select()
    if model_name:
        query = query.where(PromotionRequest.model == find_model(model_name))
    if status:
        query = query.where(PromotionRequest.status == status)
    rows, next_cursor = newest_first(query, PromotionRequest.id, limit=limit, cursor=cursor)
    return Page([_view_of(row) for row in rows], next_cursor)
