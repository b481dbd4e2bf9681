"""The console's read pages: fleet, model, version, reports, activity. Each reads the same
services as the API."""
from __future__ import annotations

from flask import Response, request
from markupsafe import Markup

from registry.console.blueprint import NUMBER, REPORT_ID, blp, page
from registry.report_formats import report_html, trend_chart
from registry.services import approvals as approval_service
from registry.services import criteria as criteria_service
from registry.services import deployments as deployment_service
from registry.services import events as event_service
from registry.services import evaluations as evaluation_service
from registry.services import fleet as fleet_service
from registry.services import holders as holder_service
from registry.services import models as model_service
from registry.services import reports as report_service
from registry.services import search as search_service
from registry.services import stage_catalog
from registry.services import versions as version_service

REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _tags(text: str) -> dict[str, str]:
    """`team:risk env:prod` -> {"team": "risk", "env": "prod"}; words without a colon are
    ignored."""
    return dict(word.split(":", 1) for word in text.split() if ":" in word)


@blp.route("/")
def fleet():
    """Every model, its holders and production's status; search by name and tag."""
    q, tags = request.args.get("q", "").strip(), request.args.get("tags", "").strip()
    models = fleet_service.fleet(q=q or None, tags=_tags(tags) or None,
                                 cursor=request.args.get("cursor") or None)
    waiting = approval_service.list_requests(status="open", limit=200).items
    return page("fleet.html", models=models, q=q, tags=tags, waiting=waiting)


def _criteria_metrics(criteria: dict) -> list[str]:
    """The metrics the model's rules read, in rule order: the versions table's columns."""
    seen: list[str] = []
    for rules in criteria["stages"].values():
        for rule in rules:
            if "metric" in rule and rule.get("source") != "live" and rule["metric"] not in seen:
                seen.append(rule["metric"])
    return seen


@blp.route("/models/<string:model>")
def model_page(model):
    """Holders with Roll back, versions with Promote, history, trends, criteria in force."""
    view = model_service.get_model(model)
    criteria = criteria_service.get_criteria(model)
    order = request.args.get("order_by", "").strip()
    filter_text = request.args.get("filter", "").strip()
    versions = search_service.search_versions(model=model, filter_text=filter_text or None,
                                              order_by=order or None, limit=50,
                                              cursor=request.args.get("cursor") or None)
    overview = report_service.model_overview(model, days=30, trend_points=30)
    return page("model.html", model=view, stages=stage_catalog.list_stages(model)["items"],
                requests=approval_service.list_requests(model, status="open").items,
                targets=deployment_service.list_targets(model),
                criteria=criteria, metrics=_criteria_metrics(criteria), versions=versions,
                order_by=order, filter_text=filter_text, overview=overview,
                charts=[Markup(trend_chart(line)) for line in overview["trend"]],
                history=holder_service.stage_history(model, limit=100).items)


@blp.route(f"/models/<string:model>/versions/{NUMBER}")
def version_page(model, number):
    """Run metadata, params, metrics, files, evaluations, and which stages it held when."""
    return page("version.html", model=model, version=version_service.get_version(model, number),
                evaluations=evaluation_service.list_evaluations(model, number, limit=100).items,
                moves=holder_service.version_moves(model, number),
                stages=stage_catalog.list_stages(model)["items"])


@blp.route("/reports")
def reports():
    """Stored reports, newest first."""
    return page("reports.html", reports=report_service.list_reports(
        limit=50, cursor=request.args.get("cursor") or None))


@blp.route(f"/reports/{REPORT_ID}")
def report(report_id):
    """A report's page, as the API's HTML form, inside the session."""
    html = report_html(report_service.get_report(report_id))
    return Response(html, mimetype="text/html", headers={"Content-Security-Policy": REPORT_POLICY})


@blp.route("/events")
def events():
    """The event feed, newest first, filtered by model and type; the table refreshes itself."""
    model, type_ = request.args.get("model", "").strip(), request.args.get("type", "").strip()
    rows = event_service.recent_events(model=model or None, type_=type_ or None, limit=100)
    template = "event_rows.html" if request.headers.get("HX-Request") else "events.html"
    return page(template, events=rows, model=model, type_=type_)
