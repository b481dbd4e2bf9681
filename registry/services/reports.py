"""Manager reports: what runs in production, since when, and whether it still meets its criteria.

A report is built from committed state, stored as JSON, and rendered to CSV and HTML on demand
(registry/report_formats.py). Building it evaluates each production holder afresh without
storing anything: the report describes the registry, it never changes it.
"""
from __future__ import annotations

import datetime as dt

from registry.db import write_transaction
from registry.domain import events
from registry.domain.criteria import rule_kind
from registry.domain.errors import NotFound
from registry.models import Evaluation, RegisteredModel, Report, StageMove
from registry.services.evaluations import SCHEDULER, evaluate_row, verdicts_since_taking_stage
from registry.services.events import append_event
from registry.services.holders import holders_of, stage_order
from registry.services.lookup import find_model
from registry.services.pages import Page, newest_first
from registry.services.timefmt import rfc3339, utcnow

STATUSES = ("passing", "degraded", "failing", "no_production")


def _series_key(rule: dict) -> str | None:
    """The metric series a rule reads, e.g. `accuracy` or `live accuracy`; None for metadata."""
    if rule_kind(rule) == "require":
        return None
    return f"live {rule['metric']}" if rule.get("source") == "live" else rule["metric"]


def _arrival(model: RegisteredModel, holder) -> dict:
    """Who put the holder into production, how and when: its newest move in."""
    move = (StageMove.select().where((StageMove.model == model) & (StageMove.stage == "production")
                                     & (StageMove.to_version == holder.version))
            .order_by(StageMove.id.desc()).first())
    return {"version": holder.version, "since": rfc3339(holder.stage_since),
            "promoted_by": move.actor if move else None,
            "arrived_by": move.action if move else None,
            "forced": move.forced if move else False, "reason": move.reason if move else None}


def _trend(holder, current: dict, points: int) -> list[dict]:
    """Per metric a rule reads: its observed value over the holder's newest stored production
    evaluations and the one made for this report, oldest first, with the bound in force."""
    stored = list(Evaluation.select(Evaluation.evaluated_at, Evaluation.results, Evaluation.passed)
                  .where((Evaluation.version == holder) & (Evaluation.stage == "production"))
                  .order_by(Evaluation.id.desc()).limit(points - 1))
    history = [(rfc3339(e.evaluated_at), e.results) for e in reversed(stored)]
    history.append((current["evaluated_at"], current["results"]))
    series: dict[str, dict] = {}
    for result in current["results"]:
        key = _series_key(result["rule"])
        if key and key not in series:
            series[key] = {"metric": key, "bound": result["expected"], "points": []}
    for at, results in history:
        for key, line in series.items():
            value = next((r["observed"] for r in results if _series_key(r["rule"]) == key
                          and isinstance(r["observed"], (int, float))), None)
            passed = next((r["passed"] for r in results if _series_key(r["rule"]) == key), None)
            if value is not None:
                line["points"].append({"at": at, "value": value, "passed": passed})
    return list(series.values())


def _status(holder, current: dict, stage: str = "production") -> str:
    """passing; degraded (fails now, passed since it took the stage); failing (never did)."""
    if current["passed"]:
        return "passing"
    return "degraded" if any(verdicts_since_taking_stage(holder, stage)) else "failing"


def _held_stages(model: RegisteredModel, production: dict | None, now: dt.datetime) -> list[dict]:
    """Every stage the model has a holder in, with the holder's status there now (production's
    evaluation is the one the section already made)."""
    held = sorted(holders_of([model.id]).items(), key=lambda item: stage_order(item[0][1]))
    entries = []
    for (_, stage), holder in held:
        current = production if stage == "production" and production else evaluate_row(
            model, holder, stage, trigger="report", actor="report", now=now, store=False)
        entries.append({"stage": stage, "version": holder.version,
                        "since": rfc3339(holder.held_since),
                        "status": _status(holder, current, stage),
                        "failed": [r["message"] for r in current["results"] if not r["passed"]]})
    return entries


def _move(move: StageMove) -> dict:
    return {"at": rfc3339(move.at), "stage": move.stage, "action": move.action,
            "from_version": move.from_version, "to_version": move.to_version,
            "actor": move.actor, "reason": move.reason, "forced": move.forced}


def _model_section(model: RegisteredModel, start: dt.datetime, end: dt.datetime, *,
                   trend_points: int, now: dt.datetime) -> dict:
    moves = list(StageMove.select().where((StageMove.model == model) & (StageMove.at >= start)
                                          & (StageMove.at <= end)).order_by(StageMove.id))
    section = {"model": model.name, "status": "no_production", "production": None,
               "criteria": [], "evaluated_at": None, "trend": [],
               "history": [_move(move) for move in moves]}
    holder = holders_of([model.id]).get((model.id, "production"))
    if holder is None:
        return {**section, "stages": _held_stages(model, None, now)}
    current = evaluate_row(model, holder, "production", trigger="report", actor="report", now=now,
                           store=False)
    section.update(status=_status(holder, current), production=_arrival(model, holder),
                   evaluated_at=current["evaluated_at"], trend=_trend(holder, current, trend_points),
                   criteria=[{key: result.get(key) for key in
                              ("rule", "observed", "expected", "margin", "passed", "message")}
                             for result in current["results"]],
                   stages=_held_stages(model, current, now))
    return section


def model_overview(model_name: str, *, days: int, trend_points: int,
                   now: dt.datetime | None = None) -> dict:
    """A model as a report shows it, now: status, production holder and how it got there, the
    criteria with observed values and margins, trend series, every held stage and the stage
    moves of the last `days`. Evaluates without storing; raises ModelNotFound."""
    now = now or utcnow()
    return _model_section(find_model(model_name), now - dt.timedelta(days=days), now,
                          trend_points=trend_points, now=now)


def _summary(sections: list[dict]) -> dict:
    counts = {status: sum(s["status"] == status for s in sections) for status in STATUSES}
    moves = [m for s in sections for m in s["history"] if m["stage"] == "production"]
    return {"models": len(sections), **counts,
            "promotions": sum(m["action"] == "promote" for m in moves),
            "rollbacks": sum(m["action"] == "rollback" for m in moves),
            "automatic_rollbacks": sum(m["action"] == "rollback" and m["actor"] == SCHEDULER
                                       for m in moves)}


def report_link(public_url: str, report_id: int, fmt: str = "html") -> str:
    return f"{public_url.rstrip('/')}/api/v1/reports/{report_id}?format={fmt}"


def console_link(public_url: str, report_id: int) -> str:
    """The report's page in the web console (a browser signs in there; the API link wants a
    bearer header). Absolute when the server's address is known, else a path."""
    return f"{public_url.rstrip('/')}/ui/reports/{report_id}"


def generate_report(*, actor: str, trigger: str, period_days: int, trend_points: int,
                    public_url: str = "", models: list[str] | None = None,
                    now: dt.datetime | None = None) -> dict:
    """Build a report over the last `period_days` for `models` (None: every model) and store it.

    The report is built from reads outside any write transaction, so a large fleet never holds
    the write lock; one short transaction then stores it with the event `report.generated`
    carrying its summary, a link to the HTML page and one to its console page. Raises ModelNotFound for an unknown name
    in `models`.
    """
    now = now or utcnow()
    start = now - dt.timedelta(days=period_days)
    if models is None:
        chosen = list(RegisteredModel.select().order_by(RegisteredModel.name))
    else:
        chosen = [find_model(name) for name in dict.fromkeys(models)]
    sections = [_model_section(model, start, now, trend_points=trend_points, now=now)
                for model in chosen]
    summary = _summary(sections)
    with write_transaction():
        report = Report.create(created_at=now, period_start=start, period_end=now, trigger=trigger,
                               actor=actor, models=models, summary=summary,
                               body={"models": sections})
        append_event(events.REPORT_GENERATED, actor=actor, now=now, data={
            "report_id": report.id, "summary": summary, "trigger": trigger,
            "period": {"start": rfc3339(start), "end": rfc3339(now)},
            "url": report_link(public_url, report.id),
            "console_url": console_link(public_url, report.id)})
    return report_view(report)


def generate_configured(config: dict, *, actor: str, trigger: str,
                        models: list[str] | None = None, period_days: int | None = None,
                        public_url: str = "") -> dict:
    """generate_report with the `schedule` and `server` settings filling in the period, the
    trend length and the link's base URL the caller did not give. Raises ModelNotFound."""
    schedule = config["schedule"]
    return generate_report(actor=actor, trigger=trigger, models=models,
                           period_days=period_days or schedule["report_period_days"],
                           trend_points=schedule["report_trend_points"],
                           public_url=config["server"]["public_url"] or public_url)


def report_view(report: Report, *, body: bool = True) -> dict:
    view = {"id": report.id, "created_at": rfc3339(report.created_at),
            "period": {"start": rfc3339(report.period_start), "end": rfc3339(report.period_end)},
            "trigger": report.trigger, "actor": report.actor, "models_requested": report.models,
            "summary": report.summary}
    return {**view, "models": report.body["models"]} if body else view


def get_report(report_id: int) -> dict:
    """The whole report; raises NotFound."""
    report = Report.get_or_none(Report.id == report_id)
    if report is None:
        raise NotFound(f"report {report_id} does not exist")
    return report_view(report)


def list_reports(*, limit: int = 50, cursor: str | None = None) -> Page:
    """Reports newest first, summaries only; raises InvalidInput for a bad cursor."""
    query = Report.select(Report.id, Report.created_at, Report.period_start, Report.period_end,
                          Report.trigger, Report.actor, Report.models, Report.summary)
    reports, next_cursor = newest_first(query, Report.id, limit=limit, cursor=cursor)
    return Page([report_view(report, body=False) for report in reports], next_cursor)
