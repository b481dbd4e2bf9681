"""`modelyard import mlflow`: bring a team's registered models over from MLflow."""
from __future__ import annotations

import sys

import click

from registry.cli.output import Output
from registry.cli.remote import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_UNAVAILABLE, remote
from registry.client import Client
from registry.importers.importer import MlflowImport, ModelReport
from registry.importers.mlflow import MlflowError, MlflowSource


@click.group("import")
def import_group() -> None:
    """Bring models over from another registry."""


def _renames(values: tuple[str, ...]) -> dict[str, str]:
    pairs = dict(value.partition("=")[::2] for value in values)
    if any(not old or not new for old, new in pairs.items()):
        raise click.BadParameter("expected MLFLOW_NAME=MODELYARD_NAME", param_hint="--rename")
    return pairs


@import_group.command("mlflow")
@click.option("--tracking-uri", envvar="MLFLOW_TRACKING_URI", required=True,
              help="The MLflow tracking server (env MLFLOW_TRACKING_URI); credentials from "
                   "MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD.")
@click.option("--model", "names", multiple=True, help="A registered model (repeatable); "
              "default: every one.")
@click.option("--rename", "renames", multiple=True, metavar="MLFLOW_NAME=NAME",
              help="Import a model under another name here (repeatable).")
@click.option("--dry-run", is_flag=True, help="Say what would be imported; change nothing.")
@click.option("--jobs", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Versions read and copied at once.")
@remote
def import_mlflow(client: Client, out: Output, tracking_uri, names, renames, dry_run,
                  jobs) -> None:
    """Copy registered models, their versions (run metadata, files with sha256), stages and
    aliases from MLflow. Safe to run again: it imports only what is missing, and finishes
    what an interrupted run started."""
    source = MlflowSource(tracking_uri)
    try:
        mlflow_version = source.server_version()
        available = source.model_names()
    except MlflowError as exc:
        click.echo(f"modelyard: {exc}", err=True)
        sys.exit(EXIT_UNAVAILABLE)
    if missing := [name for name in names if name not in available]:
        click.echo(f"modelyard: MLflow at {source.uri} has no registered model "
                   f"{', '.join(missing)}", err=True)
        sys.exit(EXIT_NOT_FOUND)
    with _progress(out) as progress:
        run = MlflowImport(source, client, dry_run=dry_run, rename=_renames(renames),
                           progress=progress, jobs=jobs)
        reports = [_import_one(run, name) for name in names or available]
    out.emit({"tracking_uri": source.uri, "mlflow_version": mlflow_version, "dry_run": dry_run,
              "models": [report.as_dict() for report in reports]},
             lambda: _summary(out, reports, dry_run))
    if any(report.failed for report in reports):
        sys.exit(EXIT_ERROR)


def _import_one(run: MlflowImport, name: str) -> ModelReport:
    try:
        return run.import_model(name)
    except MlflowError as exc:  # the model itself cannot be read: the others still can
        report = ModelReport(name, run.rename.get(name, name))
        report.failed.append({"why": str(exc)})
        return report


class _progress:
    """A bar per model on a terminal (stderr, so stdout stays the summary); nothing otherwise."""

    def __init__(self, out: Output) -> None:
        self.display = None
        if not out.as_json and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
            self.display = Progress(TextColumn("{task.fields[model]}"), BarColumn(),
                                    MofNCompleteColumn(), TextColumn("{task.description}"),
                                    console=Console(stderr=True))
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        if self.display is None:
            return None
        self.display.__enter__()
        return self.update

    def __exit__(self, *exc) -> None:
        if self.display is not None:
            self.display.__exit__(*exc)

    def update(self, model: str, done: int, total: int, what: str) -> None:
        if model not in self.tasks:
            self.tasks[model] = self.display.add_task(what, total=total, model=model)
        self.display.update(self.tasks[model], completed=done, description=what)


def _summary(out: Output, reports: list[ModelReport], dry_run: bool) -> None:
    if dry_run:
        out.line("Dry run: nothing was written. What the import would do:")
    out.table(["MODEL", "VERSIONS", "IMPORTED", "ALREADY HERE", "FILES", "BYTES", "STAGES",
               "SKIPPED", "FAILED"],
              [[r.name if r.name == r.target else f"{r.name} -> {r.target}", r.versions,
                len(r.imported), r.already, r.files, f"{r.bytes:,}",
                " ".join(f"{s['stage']}={s['version'] or 'MLflow ' + str(s['mlflow_version'])}"
                         f" ({s['action']})" for s in r.stages),
                len(r.skipped), len(r.failed)] for r in reports])
    for report in reports:
        if report.version_map:
            out.line(f"{report.target}: MLflow version -> version here: " + ", ".join(
                f"{old} -> {new}" for old, new in report.version_map.items()))
        for kind, entries in (("skipped", report.skipped), ("failed", report.failed)):
            for entry in entries:
                out.line(f"{report.name} {_subject(entry)}: {kind}: {entry['why']}")
        for stage in report.stages:
            if stage["action"] == "skipped":
                out.line(f"{report.name} stage {stage['stage']}: skipped: {stage['why']}")
        for note in report.notes:
            out.line(f"{report.name}: note: {note}")


def _subject(entry: dict) -> str:
    if "stage" in entry:
        return f"stage {entry['stage']}"
    return f"version {entry['version']}" if "version" in entry else "model"
