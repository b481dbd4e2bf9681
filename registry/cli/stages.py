"""Stage moves and what they left behind, through the API: promote, rollback, status,
history, download."""
from __future__ import annotations

from pathlib import Path

import click

from registry.cli.output import Output, short_time as _short
from registry.cli.remote import remote, verdict
from registry.client import Client
from registry.domain.actors import person
from registry.domain.stages import HELD_STAGES

PROMOTABLE = tuple(reversed(HELD_STAGES))  # production first: what people ask about


@click.command()
@click.argument("model")
@click.argument("version", type=click.IntRange(1, 2**31 - 1))
@click.option("--stage", type=click.Choice(PROMOTABLE), default="production",
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


@click.command()
@click.argument("model")
@click.option("--to", "to_version", type=click.IntRange(1, 2**31 - 1),
              help="This version (it must have held the stage); default: the previous good one.")
@click.option("--stage", type=click.Choice(PROMOTABLE), default="production",
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


@click.command()
@click.argument("model")
@remote
def status(client: Client, out: Output, model) -> None:
    """What holds production and staging, since when, and the newest evaluations."""
    view = client.get_model(model)
    holders = {}
    for stage in PROMOTABLE:
        if view[stage]:
            number = view[stage]["version"]
            holders[stage] = {**view[stage], "evaluation": client.get_version(model, number)
                              .get("evaluations", {}).get(stage)}
    data = {"model": model, **{stage: holders.get(stage) for stage in PROMOTABLE},
            "latest_version": view["latest_version"]}

    def human() -> None:
        for stage in PROMOTABLE:
            holder = holders.get(stage)
            if not holder:
                out.line(f"{stage}: none")
                continue
            how = _how_it_got_there(client, model, stage)
            out.line(f"{stage}: version {holder['version']}, {how}")
            out.line(f"  {verdict(holder['evaluation'])}")
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


@click.command()
@click.argument("model")
@click.option("--stage", type=click.Choice(PROMOTABLE))
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


@click.command()
@click.argument("model")
@click.argument("version_or_stage")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@remote
def download(client: Client, out: Output, model, version_or_stage, dest) -> None:
    """Download a version (a number, or production / staging) into DEST, verifying every
    sha256 (exit 8 on a mismatch)."""
    if version_or_stage not in PROMOTABLE and not version_or_stage.isdigit():
        raise click.BadParameter("a version number, production or staging",
                                 param_hint="VERSION_OR_STAGE")
    result = client.download(model, version_or_stage, dest)
    out.emit(result, f"downloaded {model} version {result['version']}: "
                     f"{len(result['files'])} file(s) verified into {result['dest']}")
