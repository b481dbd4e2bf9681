"""A model's stages and what moved them, through the API: stages list|add|remove, promote,
rollback, status, history, download."""
from __future__ import annotations

from pathlib import Path

import click

from registry.cli.output import Output, short_time as _short
from registry.cli.remote import remote, verdict
from registry.client import Client
from registry.domain.actors import person
from registry.domain.stages import HELD_STAGES, STAGE_NAME

BUILTINS = tuple(reversed(HELD_STAGES))  # production first: what people ask about
STAGE_HELP = "production, staging or a declared stage such as canary."


@click.group("stages")
def stage_group() -> None:
    """A model's stages: the built-ins and the ones its team declared."""


@stage_group.command("list")
@click.argument("model")
@remote
def list_stages(client: Client, out: Output, model) -> None:
    """Every stage of MODEL with who may move it and its holder."""
    items = client.list_stages(model)
    out.emit(items, lambda: out.table(
        ["STAGE", "KIND", "HOLDER", "SINCE", "ADMIN ONLY", "ON DEGRADED", "DESCRIPTION"],
        [[s["name"], "built-in" if s["builtin"] else "declared",
          s["holder"]["version"] if s["holder"] else None,
          _short(s["holder"]["since"]) if s["holder"] else None,
          "yes" if s["requires_admin"] else "no", s["on_degraded"] or "model's",
          s["description"]] for s in items]))


@stage_group.command("add")
@click.argument("model")
@click.argument("name")
@click.option("--description", default="")
@click.option("--requires-admin", is_flag=True, help="Every move of it needs the admin role.")
@click.option("--on-degraded", type=click.Choice(("notify", "rollback")),
              help="When its holder degrades (default: the model's setting).")
@remote
def add_stage(client: Client, out: Output, model, name, description, requires_admin,
              on_degraded) -> None:
    """Declare stage NAME for MODEL (admin)."""
    view = client.declare_stage(model, name, description=description,
                                requires_admin=requires_admin, on_degraded=on_degraded)
    out.emit(view, f"declared stage {name} of {model}")


@stage_group.command("remove")
@click.argument("model")
@click.argument("name")
@remote
def remove_stage(client: Client, out: Output, model, name) -> None:
    """Remove declared stage NAME of MODEL (admin; refused while a version holds it)."""
    client.remove_stage(model, name)
    out.emit({"model": model, "removed": name}, f"removed stage {name} of {model}")


@click.command()
@click.argument("model")
@click.argument("version", type=click.IntRange(1, 2**31 - 1))
@click.option("--stage", default="production", show_default=True, help=STAGE_HELP)
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
@click.option("--stage", default="production", show_default=True, help=STAGE_HELP)
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
    """What holds each stage (built-in and declared), since when, and the newest evaluations."""
    view = client.get_model(model)
    holders = {}
    for stage, held in view["stages"].items():
        holders[stage] = {**held, "evaluation": client.get_version(model, held["version"])
                          .get("evaluations", {}).get(stage)}
    data = {"model": model, **{stage: holders.get(stage) for stage in BUILTINS},
            "stages": holders, "latest_version": view["latest_version"]}

    def human() -> None:
        for stage in [*BUILTINS, *(name for name in holders if name not in BUILTINS)]:
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
@click.option("--stage", help=STAGE_HELP)
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
    """Download a version (a number, or a stage such as production or canary for its holder)
    into DEST, verifying every sha256 (exit 8 on a mismatch)."""
    if not (version_or_stage.isdigit() or STAGE_NAME.match(version_or_stage)):
        raise click.BadParameter("a version number or a stage name",
                                 param_hint="VERSION_OR_STAGE")
    result = client.download(model, version_or_stage, dest)
    out.emit(result, f"downloaded {model} version {result['version']}: "
                     f"{len(result['files'])} file(s) verified into {result['dest']}")
