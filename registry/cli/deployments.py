"""What serves where, through the API: `deployments [MODEL]`, and `agent`, the reference
deployer."""
from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from pathlib import Path

import click

from registry.cli.output import Output, short_time as _short
from registry.cli.remote import remote
from registry.client import Client
from registry.client.agent import Agent, AgentSettings


def _ago(text: str) -> str:
    seconds = (dt.datetime.now(dt.timezone.utc)
               - dt.datetime.fromisoformat(text.replace("Z", "+00:00"))).total_seconds()
    return f"{seconds:.0f} s ago"


@click.command()
@click.argument("model", required=False)
@click.option("--lagging", is_flag=True, help="Only targets not serving what they should.")
@remote
def deployments(client: Client, out: Output, model, lagging) -> None:
    """Each deployment target: the version its stage wants next to the one it serves."""
    items = client.deployments(model, converged=False if lagging else None)
    if lagging and model:
        items = [item for item in items if not item["converged"]]
    out.emit(items, lambda: out.table(
        ["MODEL", "TARGET", "STAGE", "DESIRED", "SERVING", "STATE", "CONVERGED", "SINCE",
         "LAST SEEN"],
        [[t["model"], t["target"], t["stage"], t["desired_version"], t["version"], t["state"],
          "yes" if t["converged"] else "NO", _short(t["since"]), _ago(t["last_seen"])]
         for t in items]))


@click.command()
@click.option("--model", required=True)
@click.option("--stage", default="production", show_default=True)
@click.option("--target", required=True, help="This deployment's name (a region, a cluster).")
@click.option("--dir", "directory", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="versions/<v> and the `current` symlink live here.")
@click.option("--exec", "command", help="Run after each switch (MODELYARD_VERSION and "
              "MODELYARD_MODEL_DIR in its environment); a non-zero exit reports failed and keeps "
              "the previous version.")
@click.option("--keep", type=click.IntRange(0, 1000), default=3, show_default=True,
              help="Old versions kept on disk.")
@click.option("--heartbeat", type=click.FloatRange(1, 3600), default=10, show_default=True,
              help="Seconds between reports when nothing changes.")
@click.option("--poll", type=click.FloatRange(0.05, 60), default=0.25, show_default=True,
              help="Seconds between conditional look-ups of the stage (a 304 while it stays).")
@remote
def agent(client: Client, out: Output, model, stage, target, directory, command, keep,
          heartbeat, poll) -> None:
    """Follow a stage: download each new holder (sha256 verified), switch DIR/current
    atomically, run --exec, report what serves. Stops on SIGTERM or Ctrl-C."""
    logging.getLogger("registry.client.agent").setLevel(logging.INFO)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    settings = AgentSettings(model=model, stage=stage, target=target,
                             directory=directory.resolve(), command=command, keep=keep,
                             heartbeat_s=heartbeat, poll_s=poll)
    click.echo(f"following {model} {stage} as {target} in {settings.directory}", err=True)
    Agent(client, settings).run(stop)
    click.echo("stopped", err=True)
