"""What the commands that open the database share: the same settings and the same database
`serve` would use, or a clear exit 2."""
from __future__ import annotations

import sys

import click

from registry.config import ConfigError, load_config


def settings(overrides: dict | None = None) -> dict:
    try:
        return load_config(overrides)
    except ConfigError as exc:
        click.echo(f"modelyard: {exc}", err=True)
        sys.exit(2)


def data_dir_option(command):
    """`--data-dir`, as `serve` takes it: the same resolution finds the same database."""
    return click.option("--data-dir", type=click.Path(file_okay=False),
                        help="The server's data folder (config server.data_dir), when the "
                        "embedded SQLite database is used.")(command)


def open_registry_or_exit(data_dir: str | None, *, create: bool = False,
                          migrate: bool | None = None):
    """(config, artifact store) of the registry `serve` would open with the same settings, with
    this thread connected. Exits 2, naming the path, when that database does not exist."""
    from registry.db import database
    from registry.startup import RegistryMissing, open_registry

    config = settings({"server": {"data_dir": data_dir}} if data_dir else None)
    try:
        store = open_registry(config, create=create, migrate=migrate)
    except RegistryMissing as exc:
        click.echo(f"modelyard: {exc}", err=True)
        sys.exit(2)
    database.connect(reuse_if_open=True)
    return config, store
