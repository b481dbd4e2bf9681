"""Commands that work on the database and artifact store directly: schema, tokens, audit,
artifacts, backup and restore."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from registry.cli.local import data_dir_option, open_registry_or_exit, settings


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@data_dir_option
def db_upgrade(data_dir: str | None) -> None:
    """Create the database or apply pending schema migrations (safe to run from several
    processes at once)."""
    from registry.migrate import upgrade

    open_registry_or_exit(data_dir, create=True, migrate=False)
    applied = upgrade()
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@db.command("analyze")
@data_dir_option
def db_analyze(data_dir: str | None) -> None:
    """Refresh the query planner's statistics (the db_analyze job does it on schedule)."""
    from registry.db import analyze

    open_registry_or_exit(data_dir)
    analyze()
    click.echo("statistics refreshed")


@click.group()
def tokens() -> None:
    """API tokens (works on the database directly, so it can create the first one)."""


@tokens.command("create")
@click.option("--name", required=True, help="A name people will recognise in the audit trail.")
@click.option("--role", required=True, type=click.Choice(["viewer", "editor", "deployer", "admin"]))
@click.option("--subject", help="The person or system behind it (default: the name); one "
              "subject's tokens count once among a request's approvers.")
@data_dir_option
def tokens_create(name: str, role: str, subject: str | None, data_dir: str | None) -> None:
    """Create a token and print it (this is the only time it is shown)."""
    from registry.domain.errors import DomainError
    from registry.services.tokens import create_token

    open_registry_or_exit(data_dir)
    try:
        click.echo(create_token(name, role, actor="cli", subject=subject)["token"])
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None


@tokens.command("list")
@data_dir_option
def tokens_list(data_dir: str | None) -> None:
    """Every token: id, name, role, last use, revocation."""
    from registry.services.tokens import list_tokens

    from registry.cli.output import Output, short_time as _short

    open_registry_or_exit(data_dir)
    Output(as_json=False).table(["ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED"], [
        [t["id"], t["name"], t["role"], _short(t["created_at"]),
         _short(t["last_used_at"]) or "never",
         _short(t["revoked_at"])] for t in list_tokens()])


@tokens.command("revoke")
@click.argument("token_id", type=int)
@data_dir_option
def tokens_revoke(token_id: int, data_dir: str | None) -> None:
    """Revoke a token by id."""
    from registry.domain.errors import DomainError
    from registry.services.tokens import revoke_token

    open_registry_or_exit(data_dir)
    try:
        revoke_token(token_id, actor="cli")
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"revoked token {token_id}")


@click.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@data_dir_option
def audit_verify(data_dir: str | None) -> None:
    """Check the hash chain: exit 1 and one line per problem when a record was altered or
    removed."""
    from registry.services.audit import verify

    open_registry_or_exit(data_dir)
    problems = verify()
    for line in problems:
        click.echo(f"audit: {line}", err=True)
    if problems:
        sys.exit(1)
    click.echo("audit trail intact")


def _exit_for(exc: Exception) -> None:
    """One line and an exit code a script can act on, for a backup or restore that cannot run:
    2 unusable input, 3 a blob missing, 4 something in the way, 1 the filesystem refused."""
    from registry.domain.errors import Conflict, DomainError, NotFound

    detail = exc.detail if isinstance(exc, DomainError) else f"{exc.strerror}: {exc.filename}"
    click.echo(f"modelyard: {detail}", err=True)
    sys.exit(4 if isinstance(exc, Conflict) else 3 if isinstance(exc, NotFound)
             else 2 if isinstance(exc, DomainError) else 1)


@click.command()
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
@data_dir_option
def backup(destination: Path, data_dir: str | None) -> None:
    """Copy the database (online, consistent: the server keeps serving) and every artifact it
    references into DESTINATION, an empty folder."""
    from registry.domain.errors import DomainError
    from registry.services.backup import backup as run_backup, embedded_database

    config, store = open_registry_or_exit(data_dir)
    try:
        database_file = embedded_database(config)
        manifest = run_backup(database_file, destination, store=store,
                              data_dir=Path(config["server"]["data_dir"]))
    except (DomainError, OSError) as exc:
        _exit_for(exc)
    click.echo(f"backed up {database_file} and {manifest['blobs']} blob(s) "
               f"({manifest['bytes']} bytes) to {destination}")


@click.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@data_dir_option
def restore(source: Path, data_dir: str | None) -> None:
    """Restore a `modelyard backup` folder into a data folder that has no database yet."""
    from registry.domain.errors import DomainError
    from registry.services.backup import embedded_database, restore as run_restore
    from registry.storage import open_store

    config = settings({"server": {"data_dir": data_dir}} if data_dir else None)
    try:
        database_file = embedded_database(config)
        manifest = run_restore(source, database_file, store=open_store(config),
                               data_dir=Path(config["server"]["data_dir"]))
    except (DomainError, OSError) as exc:
        _exit_for(exc)
    open_registry_or_exit(data_dir)  # upgrades a backup taken by an older release
    click.echo(f"restored the backup of {manifest['created_at']} ({manifest['blobs']} blob(s)) "
               f"into {database_file}")


@click.group()
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
    from registry.services.artifacts import verify_versions

    _, store = open_registry_or_exit(data_dir)
    failed = 0
    for report in verify_versions(store=store, model_name=model, number=version, rehash=rehash):
        for entry in report["files"]:
            if not entry["ok"]:
                failed += 1
                click.echo(f"{report['model']} v{report['version']} {entry['path']}: "
                           f"{entry['problem']}")
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

    _, store = open_registry_or_exit(data_dir)
    removed = collect_garbage(store=store, grace=dt.timedelta(hours=grace_hours), dry_run=dry_run)
    click.echo(f"{'would remove' if dry_run else 'removed'} {len(removed)} blob(s)")
