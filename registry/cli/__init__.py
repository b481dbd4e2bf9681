"""The `modelyard` command line: one group, its commands registered from a module per noun."""
from __future__ import annotations

import logging

import click

from registry.cli import (approvals, database, deployments, events, imports, processes, reports,
                          stages, versions)

# retries, job bookkeeping and applied migrations: details, not news
QUIET_LOGGERS = ("urllib3", "apscheduler", "peewee.migrations")



@click.group()
@click.version_option(package_name="modelyard", prog_name="modelyard")
@click.option("-v", "--verbose", is_flag=True, help="Log details (migrations, retries, jobs).")
def main(verbose: bool) -> None:
    """Modelyard: model registry with gated promotion and one-call rollback."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        for name in QUIET_LOGGERS:
            quiet = logging.ERROR if name == "urllib3" else logging.WARNING
            logging.getLogger(name).setLevel(quiet)


COMMANDS = (processes.serve, processes.worker, processes.config, database.db, database.tokens,
            database.audit, database.artifacts, database.backup, database.restore,
            versions.models, versions.versions, stages.stage_group, stages.promote, stages.rollback, stages.status,
            stages.history, stages.download, approvals.requests_group,
            deployments.deployments, deployments.agent, events.events, events.webhooks, reports.reports,
            reports.schedules, imports.import_group)
for command in COMMANDS:
    main.add_command(command)
