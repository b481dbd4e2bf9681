"""Manager reports and the schedule: `reports run` generates one on the database directly;
`reports list|show` and `schedules` go through the API."""
from __future__ import annotations

import json
from pathlib import Path

import click

from registry.cli.local import data_dir_option, open_registry_or_exit
from registry.cli.output import Output, short_time as _short
from registry.cli.remote import remote
from registry.client import Client


@click.group()
def reports() -> None:
    """Manager reports: what runs in production and whether it still meets its criteria."""


@reports.command("run")
@click.option("--model", "models", multiple=True, help="Only this model (repeatable); "
              "default every model.")
@click.option("--days", type=click.IntRange(1, 366), help="Days the report covers "
              "(config schedule.report_period_days).")
@click.option("--html", type=click.Path(dir_okay=False, writable=True),
              help="Also write the HTML page to this file.")
@click.option("--mail", is_flag=True, help="Also mail it to report.mail_to over report.smtp_url.")
@data_dir_option
def reports_run(models: tuple[str, ...], days: int | None, html: str | None, mail: bool,
                data_dir: str | None) -> None:
    """Generate a report now, store it and announce it (event report.generated)."""
    from registry.domain.errors import DomainError
    from registry.report_formats import report_html
    from registry.services.reports import console_link, generate_configured, report_link

    config, _store = open_registry_or_exit(data_dir)
    try:
        report = generate_configured(config, actor="cli", trigger="manual",
                                     models=list(models) or None, period_days=days)
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    if html:
        try:
            Path(html).write_text(report_html(report), encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"report {report['id']} is stored, but {html} could "
                                       f"not be written: {exc.strerror}") from None
    summary = report["summary"]
    click.echo(f"report {report['id']}: {summary['models']} model(s), {summary['passing']} passing, "
               f"{summary['degraded']} degraded, {summary['failing']} failing, "
               f"{summary['no_production']} without production; {summary['promotions']} "
               f"promotion(s), {summary['rollbacks']} rollback(s)")
    click.echo(report_link(config["server"]["public_url"], report["id"]))
    link = console_link(config["server"]["public_url"], report["id"])
    click.echo(f"in the console: {link}")
    if mail:
        _mail(report, config["report"], link)


def _mail(report: dict, settings: dict, link: str) -> None:
    from registry.report_mail import mail_configured, mail_report

    if not mail_configured(settings):
        raise click.ClickException(f"report {report['id']} is stored, but it cannot be mailed: "
                                   "set report.mail_to and report.smtp_url")
    if not mail_report(report, settings, console_url=link):
        raise click.ClickException(f"report {report['id']} is stored, but mailing it failed "
                                   f"{settings['mail_attempts']} time(s); the log says why")
    click.echo(f"mailed to {', '.join(settings['mail_to'])}")


@reports.command("list")
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
@remote
def reports_list(client: Client, out: Output, limit) -> None:
    """Stored reports, newest first."""
    items = client.list_reports(limit=limit)
    out.emit(items, lambda: out.table(
        ["ID", "CREATED", "BY", "MODELS", "PASSING", "DEGRADED", "FAILING", "ROLLBACKS"],
        [[r["id"], _short(r["created_at"]), r["actor"], r["summary"]["models"],
          r["summary"]["passing"], r["summary"]["degraded"], r["summary"]["failing"],
          r["summary"]["rollbacks"]] for r in items]))


@reports.command("show")
@click.argument("report_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--format", "fmt", type=click.Choice(["json", "html", "csv"]), default="json",
              show_default=True, help="json prints a summary for people unless --json is given.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@remote
def reports_show(client: Client, out: Output, report_id, fmt, output) -> None:
    """One report as JSON, HTML (one self-contained page) or CSV."""
    report = client.get_report(report_id, format=fmt)
    text = json.dumps(report, indent=2) if fmt == "json" else report
    if output:
        output.write_text(text, encoding="utf-8")
        out.emit({"report_id": report_id, "format": fmt, "file": str(output)},
                 f"wrote report {report_id} ({fmt}) to {output}")
    elif fmt == "json" and not out.as_json:
        _show_report(out, report)
    else:
        click.echo(text)


def _show_report(out: Output, report: dict) -> None:
    summary = report["summary"]
    out.line(f"report {report['id']}, {_short(report['created_at'])}: {summary['models']} "
             f"model(s), {summary['passing']} passing, {summary['degraded']} degraded, "
             f"{summary['failing']} failing; {summary['promotions']} promotion(s), "
             f"{summary['rollbacks']} rollback(s)")
    out.table(["MODEL", "STATUS", "PRODUCTION", "FAILING CRITERIA"], [
        [m["model"], m["status"], (m.get("production") or {}).get("version") or "-",
         "; ".join(c["message"] for c in m.get("criteria", []) if not c.get("passed"))]
        for m in report.get("models", [])])


@click.command()
@remote
def schedules(client: Client, out: Output) -> None:
    """The scheduled jobs: cron, next run, last run."""
    items = client.schedules()
    out.emit(items, lambda: out.table(["JOB", "CRON", "NEXT", "LAST RUN", "OUTCOME"], [
        [s["job"], s["cron"] or "off", _short(s["next_run_at"]),
         _short((s["last_run"] or {}).get("scheduled_for")),
         (s["last_run"] or {}).get("outcome")] for s in items]))
