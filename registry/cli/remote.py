"""CLI commands that work through the HTTP API (registry.client), from any machine.

Each takes `--url` / `--token` (or MODELYARD_URL / MODELYARD_TOKEN, or the client config file),
prints for people by default and JSON with `--json`, and exits with a code a shell script can
act on (EXIT_CODES).
"""
from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable

import click
import requests

from registry.cli import main, reports
from registry.cli.output import Output, short_time as _short
from registry.domain.actors import person
from registry.client import (BadRequest, ChecksumMismatch, Client, Conflict, CriteriaNotMet,
                             Forbidden, ModelyardError, NotFound, ServerError, Unauthorized)

EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_CRITERIA, EXIT_AUTH, \
    EXIT_UNAVAILABLE, EXIT_CHECKSUM = 1, 2, 3, 4, 5, 6, 7, 8
EXIT_CODES: list[tuple[type[Exception], int]] = [
    (CriteriaNotMet, EXIT_CRITERIA), (BadRequest, EXIT_USAGE), (NotFound, EXIT_NOT_FOUND),
    (Conflict, EXIT_CONFLICT),
    (Unauthorized, EXIT_AUTH), (Forbidden, EXIT_AUTH), (ServerError, EXIT_UNAVAILABLE),
    (requests.ConnectionError, EXIT_UNAVAILABLE), (ChecksumMismatch, EXIT_CHECKSUM),
    (OSError, EXIT_ERROR),  # an unreadable file, an unwritable folder, a timeout
]


def _fail(out: Output, exc: Exception, url: str) -> None:
    code = next((code for kind, code in EXIT_CODES if isinstance(exc, kind)), EXIT_ERROR)
    if isinstance(exc, ModelyardError):
        if out.as_json:
            click.echo(json.dumps(exc.problem, indent=2))
        if isinstance(exc, CriteriaNotMet):  # each rule once, on its own line
            evaluation = exc.evaluation
            click.echo(f"modelyard: version {evaluation.get('version')} does not meet the "
                       f"{evaluation.get('stage')} criteria:", err=True)
            for result in evaluation.get("results", []):
                click.echo(f"  {'pass' if result['passed'] else 'FAIL'}  {result['message']}",
                           err=True)
        else:
            click.echo(f"modelyard: {exc.title}: {exc.detail}", err=True)
        for field, messages in (exc.problem.get("errors") or {}).items():
            click.echo(f"  {field}: {' '.join(map(str, messages))}", err=True)
        if isinstance(exc, CriteriaNotMet):
            click.echo("  To promote it anyway, an admin adds --force --reason \"why\".", err=True)
    elif isinstance(exc, requests.ConnectionError):
        click.echo(f"modelyard: nothing answers at {url}: is the server running, and is "
                   "--url / MODELYARD_URL right?", err=True)
    else:
        click.echo(f"modelyard: {exc}", err=True)
    sys.exit(code)


def remote(func: Callable) -> Callable:
    """Give a command --url, --token and --json, a Client, and exit codes for errors."""
    @click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
    @click.option("--token", envvar="MODELYARD_TOKEN", help="API token (env MODELYARD_TOKEN).")
    @click.option("--url", envvar="MODELYARD_URL", help="Server URL (env MODELYARD_URL; "
                  "default from the client config file, else http://127.0.0.1:8080).")
    @functools.wraps(func)
    def command(url: str | None, token: str | None, as_json: bool, **kwargs) -> None:
        out = Output(as_json)
        client = Client(url, token, progress=False if as_json else None)
        try:
            func(client, out, **kwargs)
        except (ModelyardError, ChecksumMismatch, OSError) as exc:
            _fail(out, exc, client.url)
    return command


def _pairs(values: tuple[str, ...], number: bool = False) -> dict[str, Any]:
    """key=value options as a dict; numbers parsed where asked (metrics) or where they look
    like numbers (params)."""
    result: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not key=value")
        try:
            result[key] = float(raw) if number else json.loads(raw)
        except ValueError:
            if number:
                raise click.BadParameter(f"{key}: {raw!r} is not a number") from None
            result[key] = raw
        if not number and not isinstance(result[key], (str, int, float, bool)):
            result[key] = raw
    return result


def _holder(summary: dict | None) -> str:
    return f"v{summary['version']} since {_short(summary['stage_since'])}" if summary else "-"


# ---- models ---------------------------------------------------------------------------------

@main.group()
def models() -> None:
    """Registered models."""


@models.command("list")
@click.option("--q", help="Name contains this.")
@click.option("--tag", help="key:value")
@click.option("--stage", type=click.Choice(["production", "staging"]), help="Has a version there.")
@remote
def models_list(client: Client, out: Output, q, tag, stage) -> None:
    """Models with their production and staging versions."""
    items = client.list_models(q=q, tag=tag, stage=stage)
    out.emit(items, lambda: out.table(
        ["MODEL", "PRODUCTION", "STAGING", "LATEST", "TAGS"],
        [[m["name"], _holder(m["production"]), _holder(m["staging"]), m["latest_version"],
          " ".join(f"{k}={v}" for k, v in m["tags"].items())] for m in items]))


@models.command("show")
@click.argument("model")
@remote
def models_show(client: Client, out: Output, model) -> None:
    """One model: description, tags, holders, settings."""
    view = client.get_model(model)
    out.emit(view, lambda: out.table(["FIELD", "VALUE"], [
        ["name", view["name"]], ["description", view["description"]],
        ["tags", " ".join(f"{k}={v}" for k, v in view["tags"].items())],
        ["production", _holder(view["production"])], ["staging", _holder(view["staging"])],
        ["latest version", view["latest_version"]],
        ["on_degraded", view.get("on_degraded")],
        ["production_requires_admin", view["production_requires_admin"]]]))


# ---- versions -------------------------------------------------------------------------------

@main.group()
def versions() -> None:
    """Model versions: register, list, show."""


@versions.command("register")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--model", required=True, help="Model name (created when new).")
@click.option("--metric", "metrics", multiple=True, metavar="KEY=NUMBER", help="Repeatable.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option("--description")
@click.option("--run-id")
@click.option("--experiment")
@click.option("--dataset", help="Dataset name.")
@click.option("--dataset-version")
@click.option("--dataset-digest")
@click.option("--commit", help="Code commit.")
@click.option("--repo", help="Code repository.")
@remote
def versions_register(client: Client, out: Output, path: Path, model, metrics, params, tags,
                      description, run_id, experiment, dataset, dataset_version, dataset_digest,
                      commit, repo) -> None:
    """Upload a file or a folder as a new ready version (with digests and a progress bar)."""
    run: dict[str, Any] = {k: v for k, v in (("id", run_id), ("experiment", experiment)) if v}
    if dataset:
        run["dataset"] = {k: v for k, v in (("name", dataset), ("version", dataset_version),
                                             ("digest", dataset_digest)) if v}
    if commit or repo:
        run["code"] = {k: v for k, v in (("commit", commit), ("repo", repo)) if v}
    view = client.register(model, path, metrics=_pairs(metrics, number=True),
                           params=_pairs(params), run=run,
                           tags={k: str(v) for k, v in _pairs(tags).items()} or None,
                           description=description)
    verdicts = ", ".join(f"{stage}: {_verdict(e).split(' (')[0]}"
                         for stage, e in sorted(view.get("evaluations", {}).items()))
    size = sum(f["size"] for f in view.get("files", []))
    out.emit(view, f"registered {model} version {view['version']} ({view['status']}): "
                   f"{len(view.get('files', []))} file(s), {size:,} bytes; {verdicts}")


@versions.command("list")
@click.option("--model", help="One model; default: search every model.")
@click.option("--filter", "filter_", help="e.g. \"metrics.accuracy >= 0.9 and tags.team = 'risk'\"")
@click.option("--order-by", help="e.g. 'metrics.accuracy desc'")
@click.option("--stage")
@click.option("--status")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@remote
def versions_list(client: Client, out: Output, model, filter_, order_by, stage, status,
                  limit) -> None:
    """Versions, newest first or in --order-by order, optionally filtered."""
    items = client.list_versions(model, filter=filter_, order_by=order_by, stage=stage,
                                 status=status, limit=limit)
    out.emit(items, lambda: out.table(
        ["MODEL", "VERSION", "STATUS", "STAGE", "CREATED", "METRICS"],
        [[v["model"], v["version"], v["status"], v["stage"], _short(v["created_at"]),
          " ".join(f"{k}={val:g}" for k, val in sorted((v.get("metrics") or {}).items())[:4])]
         for v in items]))


@versions.command("show")
@click.argument("model")
@click.argument("version", type=click.IntRange(1, 2**31 - 1))
@remote
def versions_show(client: Client, out: Output, model, version) -> None:
    """One version with its run metadata, files and evaluations."""
    view = client.get_version(model, version)
    out.emit(view, lambda: _show_version(out, view))


def _show_version(out: Output, view: dict) -> None:
    run = view.get("run") or {}
    dataset, code = run.get("dataset") or {}, run.get("code") or {}
    out.table(["FIELD", "VALUE"], [
        ["version", f"{view['model']} {view['version']}"], ["status", view["status"]],
        ["stage", view["stage"] + (" (rolled back from)" if view.get("rolled_back") else "")],
        ["created", f"{_short(view['created_at'])} by {view.get('created_by') or '-'}"],
        ["description", view.get("description") or ""],
        ["run", " ".join(f"{k}={run[k]}" for k in ("id", "experiment") if run.get(k))],
        ["dataset", " ".join(f"{v}" for v in dataset.values())],
        ["code", " ".join(f"{v}" for v in code.values())],
        ["params", " ".join(f"{k}={v}" for k, v in sorted((run.get("params") or {}).items()))],
        ["metrics", " ".join(f"{k}={v:g}" for k, v in sorted((view.get("metrics") or {}).items()))],
        ["tags", " ".join(f"{k}={v}" for k, v in sorted((view.get("tags") or {}).items()))]])
    files = view.get("files") or []
    if files:
        out.line("")
        out.table(["FILE", "SIZE", "SHA256"],
                  [[f["path"], f"{f['size']:,}", f["sha256"][:16]] for f in files])
    for stage, evaluation in sorted((view.get("evaluations") or {}).items()):
        out.line("")
        out.line(f"{stage}: {_verdict(evaluation)}")
        for result in evaluation.get("results", []):
            out.line(f"  {'pass' if result['passed'] else 'FAIL'}  {result['message']}")


def _verdict(evaluation: dict | None) -> str:
    """`criteria pass (promote, 2026-12-02 07:15:03)`, `no criteria`, or `not evaluated`."""
    if not evaluation:
        return "not evaluated"
    if not evaluation.get("results"):
        return "no criteria"
    return (f"criteria {'pass' if evaluation['passed'] else 'FAIL'} "
            f"({evaluation['trigger']}, {_short(evaluation['evaluated_at'])})")


# ---- stages ---------------------------------------------------------------------------------

@main.command()
@click.argument("model")
@click.argument("version", type=click.IntRange(1, 2**31 - 1))
@click.option("--stage", type=click.Choice(["production", "staging"]), default="production",
              show_default=True)
@click.option("--force", is_flag=True, help="Override failed criteria (admin; needs --reason).")
@click.option("--reason")
@click.option("--dry-run", is_flag=True, help="Say what would happen; change nothing.")
@click.option("--expect", type=int, help="Only if this version holds the stage now "
              "(compare-and-set; 0 means the stage is empty).")
@remote
def promote(client: Client, out: Output, model, version, stage, force, reason, dry_run,
            expect) -> None:
    """Promote a version if it meets the stage's criteria (exit 5 with the reasons if not)."""
    answer = client.promote(model, version, stage=stage, force=force, reason=reason,
                            dry_run=dry_run, **_expectation(expect))
    was = answer["previous_version"]
    out.emit(answer, f"{'would promote' if dry_run else 'promoted'} {model} version {version} "
                     f"to {stage}" + (f" (was version {was})" if was else "")
                     + (" (forced)" if answer["forced"] else ""))


def _expectation(expect: int | None) -> dict:
    if expect is None:
        return {}
    return {"expected_current_version": expect or None}


@main.command()
@click.argument("model")
@click.option("--to", "to_version", type=click.IntRange(1, 2**31 - 1),
              help="This version (it must have held the stage); default: the previous good one.")
@click.option("--stage", type=click.Choice(["production", "staging"]), default="production",
              show_default=True)
@click.option("--reason")
@click.option("--dry-run", is_flag=True)
@click.option("--expect", type=int, help="Only if this version holds the stage now.")
@remote
def rollback(client: Client, out: Output, model, to_version, stage, reason, dry_run,
             expect) -> None:
    """Return a stage to the previous good version in one call."""
    answer = client.rollback(model, stage=stage, to_version=to_version, reason=reason,
                             dry_run=dry_run, **_expectation(expect))
    out.emit(answer, f"{'would roll' if dry_run else 'rolled'} {model} {stage} back from "
                     f"version {answer['rolled_back_version']} to version {answer['version']}")


@main.command()
@click.argument("model")
@remote
def status(client: Client, out: Output, model) -> None:
    """What holds production and staging, since when, and the newest evaluations."""
    view = client.get_model(model)
    holders = {}
    for stage in ("production", "staging"):
        if view[stage]:
            number = view[stage]["version"]
            holders[stage] = {**view[stage], "evaluation": client.get_version(model, number)
                              .get("evaluations", {}).get(stage)}
    data = {"model": model, **{stage: holders.get(stage) for stage in ("production", "staging")},
            "latest_version": view["latest_version"]}

    def human() -> None:
        for stage in ("production", "staging"):
            holder = holders.get(stage)
            if not holder:
                out.line(f"{stage}: none")
                continue
            out.line(f"{stage}: version {holder['version']}, {_how_it_got_there(client, model, stage)}")
            out.line(f"  {_verdict(holder['evaluation'])}")
            for result in (holder["evaluation"] or {}).get("results", []):
                out.line(f"  {'pass' if result['passed'] else 'FAIL'}  {result['message']}")
        out.line(f"latest version: {view['latest_version']}")
    out.emit(data, human)


def _how_it_got_there(client: Client, model: str, stage: str) -> str:
    """`promoted by ci at ...` or `rolled back from version 2 by ... at ...: reason`."""
    move = (client.history(model, stage=stage, limit=1) or [None])[0]
    if move is None:
        return "no recorded move"
    what = {"promote": "promoted", "rollback": f"rolled back from version {move['from_version']}"
            }.get(move["action"], move["action"])
    reason = f": {move['reason']}" if move.get("reason") else ""
    return f"{what} by {person(move['actor'])} at {_short(move['at'])}{reason}"


@main.command()
@click.argument("model")
@click.option("--stage", type=click.Choice(["production", "staging"]))
@click.option("--at", help="RFC 3339 instant: which version held the stage then.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@remote
def history(client: Client, out: Output, model, stage, at, limit) -> None:
    """Every stage move, newest first; with --at, the holder at that instant."""
    if at:
        view = client.history(model, stage=stage, at=at)
        out.emit(view, f"{view['stage']} at {at}: " + (
            f"version {view['version']} (since {_short(view['since'])})"
            if view["version"] is not None else "no version"))
        return
    moves = client.history(model, stage=stage, limit=limit)
    out.emit(moves, lambda: out.table(
        ["SEQ", "AT", "STAGE", "ACTION", "FROM", "TO", "ACTOR", "REASON"],
        [[m["seq"], _short(m["at"]), m["stage"], m["action"] + (" (forced)" if m["forced"] else ""),
          m["from_version"], m["to_version"], person(m["actor"]), m["reason"]] for m in moves]))


@main.command()
@click.argument("model")
@click.argument("version_or_stage")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@remote
def download(client: Client, out: Output, model, version_or_stage, dest) -> None:
    """Download a version (a number, or production / staging) into DEST, verifying every
    sha256 (exit 8 on a mismatch)."""
    if version_or_stage not in ("production", "staging") and not version_or_stage.isdigit():
        raise click.BadParameter("a version number, production or staging",
                                 param_hint="VERSION_OR_STAGE")
    result = client.download(model, version_or_stage, dest)
    out.emit(result, f"downloaded {model} version {result['version']}: "
                     f"{len(result['files'])} file(s) verified into {result['dest']}")


# ---- events, webhooks, reports --------------------------------------------------------------

@main.group()
def events() -> None:
    """The event feed."""


@events.command("tail")
@click.option("--after", type=click.IntRange(0), default=0, help="Start after this seq.")
@click.option("--model")
@click.option("--type", "type_")
@click.option("--follow/--no-follow", default=False, help="Keep waiting for new events.")
@remote
def events_tail(client: Client, out: Output, after, model, type_, follow) -> None:
    """Print events in seq order, one per line (JSON lines with --json)."""
    for event in client.events(after=after, model=model, type=type_, follow=follow):
        if out.as_json:
            click.echo(json.dumps(event))
        else:
            version = f" v{event['version']}" if event["version"] is not None else ""
            click.echo(f"{event['seq']}\t{_short(event['at'])}\t{event['type']}\t"
                       f"{event['model'] or '-'}{version}\t{event['actor']}")
        sys.stdout.flush()


@main.group()
def webhooks() -> None:
    """Webhook subscriptions and their delivery log (admin)."""


@webhooks.command("list")
@remote
def webhooks_list(client: Client, out: Output) -> None:
    """Every subscription."""
    items = client.list_webhooks()
    out.emit(items, lambda: out.table(["ID", "URL", "EVENTS", "MODELS", "ACTIVE"], [
        [w["id"], w["url"], ",".join(w["events"]), ",".join(w["models"] or ["*"]), w["active"]]
        for w in items]))


@webhooks.command("create")
@click.argument("target", metavar="URL")
@click.option("--event", "event_types", multiple=True, required=True,
              help="An event type, or * (repeatable).")
@click.option("--model", "model_names", multiple=True, help="Only these models (repeatable).")
@click.option("--description")
@remote
def webhooks_create(client: Client, out: Output, target, event_types, model_names,
                    description) -> None:
    """Subscribe URL; prints the signing secret (shown this once)."""
    view = client.create_webhook(target, list(event_types), models=list(model_names) or None,
                                 description=description)
    out.emit(view, f"webhook {view['id']} created; signing secret (shown once): {view['secret']}")


def _webhook_action(name: str, call: Callable[[Client, int], Any], help_text: str,
                    say: str) -> None:
    """A `webhooks NAME WEBHOOK_ID` command calling `call`; `say` is its human answer."""
    @webhooks.command(name, help=help_text)
    @click.argument("webhook_id", type=click.IntRange(1, 2**31 - 1))
    @remote
    def action(client: Client, out: Output, webhook_id) -> None:
        result = call(client, webhook_id)
        out.emit(result, say.format(**{**(result or {}), "id": webhook_id}))


_webhook_action("show", Client.get_webhook, "One subscription.", "webhook {id}: {url} ({events})")
_webhook_action("delete", Client.delete_webhook, "Delete a subscription.", "deleted webhook {id}")
_webhook_action("test", Client.test_webhook, "Send a signed test event now.",
                "sent a test event to webhook {id}")
_webhook_action("rotate-secret", Client.rotate_webhook_secret,
                "New signing secret (the old one keeps signing for webhook.secret_overlap_s).",
                "rotated the secret of webhook {id}; new secret (shown once): {secret}")


@webhooks.command("deliveries")
@click.argument("webhook_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--status", type=click.Choice(["pending", "delivering", "delivered", "failed"]))
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@remote
def webhooks_deliveries(client: Client, out: Output, webhook_id, status, limit) -> None:
    """A subscription's deliveries, newest first."""
    items = client.deliveries(webhook_id, status=status, limit=limit)
    out.emit(items, lambda: out.table(["ID", "EVENT", "TYPE", "STATUS", "ATTEMPTS"], [
        [d["id"], d["event_seq"], d["event_type"], d["status"], d["attempts"]] for d in items]))


@webhooks.command("redeliver")
@click.argument("delivery_id", type=click.IntRange(1, 2**31 - 1))
@remote
def webhooks_redeliver(client: Client, out: Output, delivery_id) -> None:
    """Send a delivery again."""
    out.emit(client.redeliver(delivery_id), f"delivery {delivery_id} queued again")


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


@main.command()
@remote
def schedules(client: Client, out: Output) -> None:
    """The scheduled jobs: cron, next run, last run."""
    items = client.schedules()
    out.emit(items, lambda: out.table(["JOB", "CRON", "NEXT", "LAST RUN", "OUTCOME"], [
        [s["job"], s["cron"] or "off", _short(s["next_run_at"]),
         _short((s["last_run"] or {}).get("scheduled_for")),
         (s["last_run"] or {}).get("outcome")] for s in items]))
