"""Routes for manager reports and the job schedule."""
from __future__ import annotations

import marshmallow as ma
from flask import Response, current_app, request
from flask.views import MethodView
from marshmallow import fields, validate

from registry.api.blueprint import Blueprint
from registry.api.context import current_actor
from registry.api.schemas import TIME, PageArgs, Strict
from registry.domain.names import MODEL_NAME
from registry.report_formats import report_csv, report_html
from registry.services import jobs, reports

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Reports and schedules")
FORMATS = {"application/json": "json", "text/html": "html", "text/csv": "csv"}
# The page needs nothing but its own inline styles and SVG; anything else is refused.
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


class ReportRequestSchema(Strict):
    models = fields.List(fields.String(validate=validate.Regexp(MODEL_NAME)), validate=validate.Length(min=1, max=1000),
                         metadata={"description": "only these models; default every model"})
    period_days = fields.Integer(strict=True, validate=validate.Range(1, 366), metadata={
        "description": "days of stage moves covered; default config schedule.report_period_days"})


class ReportSummarySchema(ma.Schema):
    id = fields.Integer()
    created_at = fields.String(metadata=TIME)
    period = fields.Dict(keys=fields.String(), values=fields.String())
    trigger = fields.String()
    actor = fields.String()
    models_requested = fields.List(fields.String(), allow_none=True)
    summary = fields.Dict()


class ReportSchema(ReportSummarySchema):
    models = fields.List(fields.Dict(), metadata={
        "description": "per model: status, production holder, criteria with margins, trend, "
                       "stage history in the period"})


class ReportPageSchema(ma.Schema):
    items = fields.List(fields.Nested(ReportSummarySchema))
    next_cursor = fields.String(allow_none=True)


class ReportFormatArgs(Strict):
    format = fields.String(validate=validate.OneOf(("json", "html", "csv")), metadata={
        "description": "default: from the Accept header, else json"})


class JobRunSchema(ma.Schema):
    id = fields.Integer()
    job = fields.String()
    scheduled_for = fields.String(metadata=TIME)
    worker = fields.String()
    started_at = fields.String(metadata=TIME)
    finished_at = fields.String(allow_none=True, metadata=TIME)
    outcome = fields.String(metadata={"description": "running | succeeded | failed | abandoned "
                                      "(no outcome within schedule.abandon_after_s: its worker "
                                      "stopped)"})
    error = fields.String(allow_none=True)
    summary = fields.Dict()


class ScheduleSchema(ma.Schema):
    job = fields.String()
    cron = fields.String(allow_none=True)
    timezone = fields.String()
    enabled = fields.Boolean()
    next_run_at = fields.String(allow_none=True, metadata=TIME)
    last_run = fields.Nested(JobRunSchema, allow_none=True)


def _settings() -> dict:
    return current_app.config["MODELYARD"]


@blp.route("/reports")
class Reports(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ReportPageSchema)
    def get(self, args):
        """Stored reports, newest first (summaries; fetch one for the whole report)."""
        return reports.list_reports(**args).as_dict()

    @blp.arguments(ReportRequestSchema)
    @blp.response(201, ReportSchema)
    def post(self, body):
        """Generate a report now; the event report.generated announces it."""
        report = reports.generate_configured(
            _settings(), actor=current_actor(), trigger="manual", models=body.get("models"),
            period_days=body.get("period_days"), public_url=request.url_root)
        return report, 201, {"Location": f"/api/v1/reports/{report['id']}"}


@blp.route("/reports/<int(min=1, max=2147483647):report_id>", methods=["GET"])
@blp.doc(responses={"200": {"description": "OK", "content": {  # JSON, HTML or CSV
    "application/json": {"schema": ReportSchema}, "text/html": {"schema": {"type": "string"}},
    "text/csv": {"schema": {"type": "string"}}}}})
@blp.arguments(ReportFormatArgs, location="query")
@blp.response(200, ReportSchema)
def get_report(args, report_id):
    """One report as JSON, as a self-contained HTML page (text/html) or as CSV with one row per
    model and criterion (text/csv): chosen by `format`, else by the Accept header."""
    report = reports.get_report(report_id)
    chosen = args.get("format") or FORMATS[request.accept_mimetypes.best_match(
        list(FORMATS), default="application/json")]
    if chosen == "html":
        return Response(report_html(report), mimetype="text/html",
                        headers={"Content-Security-Policy": PAGE_POLICY, "Vary": "Accept"})
    if chosen == "csv":
        return Response(report_csv(report), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="modelyard-report-{report_id}.csv"',
            "Vary": "Accept"})
    return report, 200, {"Vary": "Accept"}


@blp.route("/schedules", methods=["GET"])
@blp.response(200, ScheduleSchema(many=True))
def list_schedules():
    """The configured jobs: cron, time zone, next fire, and the last run of each."""
    return jobs.schedule_view(_settings()["schedule"])


class RunArgs(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 1000))


@blp.route(f"/schedules/<any({', '.join(jobs.JOBS)}):job>/runs", methods=["GET"])
@blp.arguments(RunArgs, location="query")
@blp.response(200, JobRunSchema(many=True))
def list_runs(args, job):
    """The newest runs of one job (which worker ran each fire, how it ended)."""
    return jobs.list_runs(job, limit=args["limit"])
