"""The `modelyard` command line."""
from __future__ import annotations

import json
import logging
import sys

import click

from registry.config import ConfigError, load_config, redacted


def _config(overrides: dict | None = None) -> dict:
    try:
        return load_config(overrides)
    except ConfigError as exc:
        click.echo(f"modelyard: {exc}", err=True)
        sys.exit(2)


@click.group()
def main() -> None:
    """Modelyard: model registry with gated promotion and one-call rollback."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


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


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (safe to run from several processes at once)."""
    from registry.db import database, open_database
    from registry.migrate import upgrade

    open_database(_config())
    with database.connection_context():
        applied = upgrade()
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@main.group()
def config() -> None:
    """Configuration commands."""


@config.command("show")
def config_show() -> None:
    """Print the effective configuration with secrets redacted."""
    click.echo(json.dumps(redacted(_config()), indent=2))
