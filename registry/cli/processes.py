"""Long-running processes: the API server and the background worker; the settings they run with."""
from __future__ import annotations

import json

import click

from registry.cli.local import data_dir_option, open_registry_or_exit, settings
from registry.config import redacted


@click.command()
@click.option("--host", help="Address to listen on (config server.host).")
@click.option("--port", type=int, help="Port to listen on (config server.port).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Folder for the SQLite file and "
              "artifacts (config server.data_dir); created on first start.")
def serve(host: str | None, port: int | None, data_dir: str | None) -> None:
    """Run the API server (gunicorn, gthread) on the configured database."""
    from registry.server import run_server

    given = {"host": host, "port": port, "data_dir": data_dir}
    config = settings({"server": {key: value for key, value in given.items() if value is not None}})
    run_server(config)


@click.command()
@data_dir_option
def worker(data_dir: str | None) -> None:
    """Run the background worker: scheduled jobs and the webhook dispatcher (several workers
    may share one database; each fire and each delivery is handled once)."""
    from registry.app import webhook_settings
    from registry.services.jobs import JOBS
    from registry.worker import run_worker
    from webhooks.dispatcher import Dispatcher

    config, store = open_registry_or_exit(data_dir, create=True)
    jobs = [job for job in JOBS if config["schedule"][job]]
    click.echo("modelyard worker: dispatching webhooks; scheduled jobs: "
               f"{', '.join(jobs) or 'none'}",
               err=True)
    run_worker(config, store, Dispatcher(webhook_settings(config)))


@click.group()
def config() -> None:
    """Configuration commands."""


@config.command("show")
def config_show() -> None:
    """Print the effective configuration with secrets redacted."""
    click.echo(json.dumps(redacted(settings()), indent=2))
