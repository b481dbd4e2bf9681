"""The `modelyard` command line."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from registry.config import ConfigError, load_config, redacted


def _config(overrides: dict | None = None) -> dict:
    try:
        return load_config(overrides)
    except ConfigError as exc:
        click.echo(f"modelyard: {exc}", err=True)
        sys.exit(2)


QUIET_LOGGERS = ("urllib3", "apscheduler", "peewee.migrations")  # retries and job bookkeeping: details, not news


@click.group()
@click.version_option(package_name="modelyard", prog_name="modelyard")
@click.option("-v", "--verbose", is_flag=True, help="Log details (migrations, retries, jobs).")
def main(verbose: bool) -> None:
    """Modelyard: model registry with gated promotion and one-call rollback."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING if name != "urllib3" else logging.ERROR)


@main.command()
@click.option("--host", help="Address to listen on (config server.host).")
@click.option("--port", type=int, help="Port to listen on (config server.port).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Folder for the SQLite file and "
              "artifacts (config server.data_dir); created on first start.")
def serve(host: str | None, port: int | None, data_dir: str | None) -> None:
    """Run the API server (gunicorn, gthread) on the configured database."""
    from registry.server import run_server

    given = {"host": host, "port": port, "data_dir": data_dir}
    config = _config({"server": {key: value for key, value in given.items() if value is not None}})
    run_server(config)


def data_dir_option(command):
    """`--data-dir`, as `serve` takes it: the same resolution finds the same database."""
    return click.option("--data-dir", type=click.Path(file_okay=False),
                        help="The server's data folder (config server.data_dir), when the "
                        "embedded SQLite database is used.")(command)


def _open_registry(data_dir: str | None, *, create: bool = False, migrate: bool | None = None):
    """(config, artifact store) of the registry `serve` would open with the same settings, with
    this thread connected. Exits 2, naming the path, when that database does not exist."""
    from registry.db import database
    from registry.startup import RegistryMissing, open_registry

    config = _config({"server": {"data_dir": data_dir}} if data_dir else None)
    try:
        store = open_registry(config, create=create, migrate=migrate)
    except RegistryMissing as exc:
        click.echo(f"modelyard: {exc}", err=True)
        sys.exit(2)
    database.connect(reuse_if_open=True)
    return config, store


@main.command()
@data_dir_option
def worker(data_dir: str | None) -> None:
    """Run the background worker: scheduled jobs and the webhook dispatcher (several workers
    may share one database; each fire and each delivery is handled once)."""
    from registry.app import webhook_settings
    from registry.services.jobs import JOBS
    from registry.worker import run_worker
    from webhooks.dispatcher import Dispatcher

    config, store = _open_registry(data_dir, create=True)
    jobs = [job for job in JOBS if config["schedule"][job]]
    click.echo(f"modelyard worker: dispatching webhooks; scheduled jobs: {', '.join(jobs) or 'none'}",
               err=True)
    run_worker(config, store, Dispatcher(webhook_settings(config)))


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@data_dir_option
def db_upgrade(data_dir: str | None) -> None:
    """Create the database or apply pending schema migrations (safe to run from several
    processes at once)."""
    from registry.migrate import upgrade

    _open_registry(data_dir, create=True, migrate=False)
    applied = upgrade()
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@db.command("analyze")
@data_dir_option
def db_analyze(data_dir: str | None) -> None:
    """Refresh the query planner's statistics (the db_analyze job does it on schedule)."""
    from registry.db import analyze

    _open_registry(data_dir)
    analyze()
    click.echo("statistics refreshed")


@main.group()
def tokens() -> None:
    """API tokens (works on the database directly, so it can create the first one)."""


@tokens.command("create")
@click.option("--name", required=True, help="A name people will recognise in the audit trail.")
@click.option("--role", required=True, type=click.Choice(["viewer", "editor", "deployer", "admin"]))
@data_dir_option
def tokens_create(name: str, role: str, data_dir: str | None) -> None:
    """Create a token and print it (this is the only time it is shown)."""
    from registry.domain.errors import DomainError
    from registry.services.tokens import create_token

    _open_registry(data_dir)
    try:
        click.echo(create_token(name, role, actor="cli")["token"])
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None


@tokens.command("list")
@data_dir_option
def tokens_list(data_dir: str | None) -> None:
    """Every token: id, name, role, last use, revocation."""
    from registry.services.tokens import list_tokens

    from registry.cli.output import Output, short_time as _short

    _open_registry(data_dir)
    Output(as_json=False).table(["ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED"], [
        [t["id"], t["name"], t["role"], _short(t["created_at"]), _short(t["last_used_at"]) or "never",
         _short(t["revoked_at"])] for t in list_tokens()])



@tokens.command("revoke")
@click.argument("token_id", type=int)
@data_dir_option
def tokens_revoke(token_id: int, data_dir: str | None) -> None:
    """Revoke a token by id."""
    from registry.domain.errors import DomainError
    from registry.services.tokens import revoke_token

    _open_registry(data_dir)
    try:
        revoke_token(token_id, actor="cli")
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"revoked token {token_id}")


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@data_dir_option
def audit_verify(data_dir: str | None) -> None:
    """Check the hash chain: exit 1 and one line per problem when a record was altered or removed."""
    from registry.services.audit import verify

    _open_registry(data_dir)
    problems = verify()
    for line in problems:
        click.echo(f"audit: {line}", err=True)
    if problems:
        sys.exit(1)
    click.echo("audit trail intact")


def _sqlite_or_exit(config: dict, command: str) -> Path:
    from registry.db import sqlite_path

    path = sqlite_path(config)
    if path is None:
        click.echo(f"modelyard: {command} covers the embedded SQLite default; for PostgreSQL + "
                   "S3 use pg_dump and bucket versioning (docs/deploy.md)", err=True)
        sys.exit(2)
    return path


@main.command()
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
@data_dir_option
def backup(destination: Path, data_dir: str | None) -> None:
    """Copy the database (online, consistent: the server keeps serving) and every artifact it
    references into DESTINATION, an empty folder."""
    from registry.domain.errors import DomainError
    from registry.services.backup import backup as run_backup

    config, store = _open_registry(data_dir)
    database_file = _sqlite_or_exit(config, "backup")
    try:
        manifest = run_backup(database_file, destination, store=store,
                              data_dir=Path(config["server"]["data_dir"]))
    except DomainError as exc:
        click.echo(f"modelyard: {exc.detail}", err=True)
        sys.exit(4)
    click.echo(f"backed up {database_file} and {manifest['blobs']} blob(s) "
               f"({manifest['bytes']} bytes) to {destination}")


@main.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@data_dir_option
def restore(source: Path, data_dir: str | None) -> None:
    """Restore a `modelyard backup` folder into a data folder that has no database yet."""
    from registry.domain.errors import Conflict, DomainError
    from registry.services.backup import restore as run_restore
    from registry.storage import open_store

    config = _config({"server": {"data_dir": data_dir}} if data_dir else None)
    database_file = _sqlite_or_exit(config, "restore")
    try:
        manifest = run_restore(source, database_file, store=open_store(config),
                               data_dir=Path(config["server"]["data_dir"]))
    except DomainError as exc:
        click.echo(f"modelyard: {exc.detail}", err=True)
        sys.exit(4 if isinstance(exc, Conflict) else 2)
    _open_registry(data_dir)  # upgrades a backup taken by an older release
    click.echo(f"restored the backup of {manifest['created_at']} ({manifest['blobs']} blob(s)) "
               f"into {database_file}")


@main.group()
def config() -> None:
    """Configuration commands."""


@config.command("show")
def config_show() -> None:
    """Print the effective configuration with secrets redacted."""
    click.echo(json.dumps(redacted(_config()), indent=2))


@main.group()
def artifacts() -> None:
    """Artifact store integrity and clean-up."""


@artifacts.command("verify")
@click.argument("model", required=False)
@click.argument("version", required=False, type=click.IntRange(1, 2**31 - 1))
@click.option("--rehash", is_flag=True, help="Re-read every blob and compare its sha256.")
@data_dir_option
def artifacts_verify(model: str | None, version: int | None, rehash: bool,
                     data_dir: str | None) -> None:
    """Check files of one version, one model, or everything; exit 1 on any problem."""
    from registry.models import ModelVersion, RegisteredModel
    from registry.services.artifacts import verify_version

    _, store = _open_registry(data_dir)
    query = ModelVersion.select(ModelVersion.version, RegisteredModel.name).join(RegisteredModel)
    if model:
        query = query.where(RegisteredModel.name == model)
    if version:
        query = query.where(ModelVersion.version == version)
    failed = 0
    for row in query.order_by(RegisteredModel.name, ModelVersion.version).objects():
        report = verify_version(row.name, row.version, store=store, rehash=rehash)
        for entry in report["files"]:
            if not entry["ok"]:
                failed += 1
                click.echo(f"{row.name} v{row.version} {entry['path']}: {entry['problem']}")
    click.echo("all files verified" if not failed else f"{failed} file(s) with problems")
    sys.exit(1 if failed else 0)


@artifacts.command("gc")
@click.option("--grace-hours", type=click.FloatRange(0), default=24.0, show_default=True,
              help="Keep unreferenced blobs younger than this (uploads still in flight).")
@click.option("--dry-run", is_flag=True, help="List what would be removed.")
@data_dir_option
def artifacts_gc(grace_hours: float, dry_run: bool, data_dir: str | None) -> None:
    """Remove blobs that no version references."""
    import datetime as dt

    from registry.services.artifacts import collect_garbage

    _, store = _open_registry(data_dir)
    removed = collect_garbage(store=store, grace=dt.timedelta(hours=grace_hours), dry_run=dry_run)
    click.echo(f"{'would remove' if dry_run else 'removed'} {len(removed)} blob(s)")


@main.group()
def reports() -> None:
    """Manager reports: what runs in production and whether it still meets its criteria."""


@reports.command("run")
@click.option("--model", "models", multiple=True, help="Only this model (repeatable); "
              "default every model.")
@click.option("--days", type=click.IntRange(1, 366), help="Days the report covers "
              "(config schedule.report_period_days).")
@click.option("--html", type=click.Path(dir_okay=False, writable=True),
              help="Also write the HTML page to this file.")
@data_dir_option
def reports_run(models: tuple[str, ...], days: int | None, html: str | None,
                data_dir: str | None) -> None:
    """Generate a report now, store it and announce it (event report.generated)."""
    from registry.domain.errors import DomainError
    from registry.report_formats import report_html
    from registry.services.reports import generate_configured, report_link

    config, _store = _open_registry(data_dir)
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


from registry.cli import remote  # noqa: E402,F401  (registers the commands that call the API)
