"""Bringing MLflow's registered models over, version by version, through the Modelyard client.

Resumable by construction: every imported version carries the tag `mlflow.version`, so a run
first reads which versions are here, finishes a pending one (uploading only the files it does
not have yet) and creates only what is missing; stages move only when they have no holder or
the import itself made their last move."""
from __future__ import annotations

import logging
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import requests

from registry.client import Client, Conflict, Forbidden, ModelyardError, NotFound, Unauthorized
from registry.importers import mapping
from registry.importers.mlflow import MlflowError, MlflowSource, SourceFile

log = logging.getLogger(__name__)
ACTOR = "import:mlflow"


@dataclass
class ModelReport:
    """What one model's import did (or, in a dry run, would do)."""
    name: str
    target: str
    created: bool = False
    versions: int = 0
    imported: list[int] = field(default_factory=list)
    already: int = 0
    files: int = 0
    bytes: int = 0
    stages: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    version_map: dict[int, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {**asdict(self), "version_map": {str(k): v for k, v in self.version_map.items()}}


Progress = Callable[[str, int, int, str], None]  # model, done, total, what now


@dataclass
class _Read:
    """One version as read from MLflow, or why it could not be."""
    version: dict
    mapped: mapping.Mapped | None = None
    files: list[SourceFile] = field(default_factory=list)
    error: str | None = None


def _refusal(exc: ModelyardError) -> str:
    if isinstance(exc, (Unauthorized, Forbidden)):  # no version will fare better
        raise exc
    return f"{exc.title}: {exc.detail}"


def _failure(future: Future) -> str | None:
    """Why a version's copy failed, or None; re-raises what stops the whole import."""
    exc = future.exception()
    if exc is None:
        return None
    if isinstance(exc, ModelyardError):
        return _refusal(exc)
    if isinstance(exc, MlflowError) or (isinstance(exc, OSError)
                                        and not isinstance(exc, requests.RequestException)):
        return str(exc)
    raise exc  # Modelyard does not answer, or a bug: nothing can go on


class MlflowImport:
    """One import run from an MLflow tracking server into a Modelyard server."""

    def __init__(self, source: MlflowSource, client: Client, *, dry_run: bool = False,
                 rename: dict[str, str] | None = None, progress: Progress | None = None,
                 jobs: int = 4) -> None:
        self.source, self.client, self.dry_run, self.jobs = source, client, dry_run, jobs
        self.rename = rename or {}
        self.progress = progress or (lambda *args: None)

    def import_model(self, name: str) -> ModelReport:
        """Import one registered model: the model, every missing version with its files, then
        its stages. A version that cannot be read or written is listed as failed and the rest go
        on. Raises MlflowError when the model cannot be read, and Unauthorized, Forbidden or
        requests.ConnectionError when Modelyard refuses or does not answer (nothing can go on)."""
        model = self.source.registered_model(name)
        versions = self.source.versions(name)
        report = ModelReport(name, self.rename.get(name, name), versions=len(versions))
        here = self._prepare_model(model, report)
        numbers = self._import_versions(versions, here, report)
        self.progress(name, len(versions), len(versions), "stages")
        report.version_map = {k: v for k, v in sorted(numbers.items()) if k != v}
        self._apply_stages(model, versions, numbers, report)
        self._archive(versions, numbers, report)
        return report

    # ---- the model ----------------------------------------------------------------------

    def _prepare_model(self, model: dict, report: ModelReport) -> dict[int, dict]:
        """Create the model here (or fill in a missing description and tags); returns the
        versions already imported, by MLflow version number."""
        description, tags, notes = mapping.model_fields(model)
        report.notes += notes
        try:
            existing = self.client.get_model(report.target)
        except NotFound:
            report.created = True
            if not self.dry_run:
                try:
                    self.client.create_model(report.target, description=description, tags=tags)
                except Conflict:  # another import run created it meanwhile
                    report.created = False
            return {}
        missing = {k: v for k, v in tags.items() if k not in existing["tags"]}
        update = {**({"description": description} if description and not existing["description"] else {}),
                  **({"tags": missing} if missing else {})}
        if update and not self.dry_run:
            self.client.update_model(report.target, **update)
        imported: dict[int, dict] = {}
        for view in self.client.list_versions(report.target):  # newest first: the oldest wins
            if (tag := view["tags"].get(mapping.VERSION_TAG, "")).isdigit():
                imported[int(tag)] = view
        return imported

    # ---- versions -----------------------------------------------------------------------

    def _import_versions(self, versions: list[dict], here: dict[int, dict],
                         report: ModelReport) -> dict[int, int]:
        """Import the missing versions: MLflow is read by `jobs` threads, versions are created
        one by one in MLflow's order (so numbers follow it), and their files are copied and
        the versions finalized by `jobs` threads. Returns MLflow's numbers -> numbers here."""
        numbers = {number: view["version"] for number, view in here.items()}
        todo = [version for version in versions
                if self._needs_import(version, here.get(int(version["version"])), report)]
        self.progress(report.name, len(versions) - len(todo), len(versions), "reading MLflow")
        with ThreadPoolExecutor(self.jobs) as readers, ThreadPoolExecutor(self.jobs) as writers:
            filling = {}
            for read in readers.map(self._read, todo):
                number = int(read.version["version"])
                if read.error or self.dry_run:
                    self._count(report, number, read)
                    continue
                try:
                    view = here.get(number) or self._create(report.target, read.mapped)
                except ModelyardError as exc:
                    self._count(report, number, read, _refusal(exc))
                    continue
                filling[writers.submit(self._fill, report.target, view["version"],
                                       read.files)] = (number, view["version"], read)
            for done, future in enumerate(as_completed(filling), len(versions) - len(todo) + 1):
                number, here_number, read = filling[future]
                error = _failure(future)
                self._count(report, number, read, error, copied=None if error else future.result())
                if error is None:
                    numbers[number] = here_number
                self.progress(report.name, done, len(versions), f"version {number}")
        return numbers

    @staticmethod
    def _needs_import(version: dict, here: dict | None, report: ModelReport) -> bool:
        status = version.get("status", "READY")
        if status != "READY":
            report.skipped.append({"version": int(version["version"]),
                                   "why": f"status {status} in MLflow"})
            return False
        if here is not None and here["status"] == "ready":
            report.already += 1
            return False
        return True

    def _read(self, version: dict) -> _Read:
        """What MLflow holds for one version: its create body and its files."""
        try:
            run = self.source.run(version["run_id"]) if version.get("run_id") else None
            experiment = self.source.experiment_name(run["info"]["experiment_id"]) if run else None
            mapped = mapping.version_body(version, run, experiment, self.source.uri)
            return _Read(version, mapped, self.source.files(version, run))
        except MlflowError as exc:
            return _Read(version, error=str(exc))

    def _create(self, model: str, mapped: mapping.Mapped) -> dict:
        body = dict(mapped.body)
        return self.client.create_version(model, run=body.pop("run"), **body)

    def _fill(self, model: str, number: int, files: list[SourceFile]) -> list[SourceFile]:
        """Copy the files the pending version does not have yet, then finalize it; returns
        the files copied."""
        present = {entry["path"]: entry["size"] for entry in self.client.list_files(model, number)}
        missing = [file for file in files if present.get(file.path) != file.size]
        for file in missing:
            self._copy_file(model, number, file)
        self.client.finalize(model, number)
        return missing

    @staticmethod
    def _count(report: ModelReport, number: int, read: _Read, error: str | None = None, *,
               copied: list[SourceFile] | None = None) -> None:
        """Record one version's outcome in the report (on the calling thread only); a dry run
        counts every file it would copy."""
        if error or read.error:
            report.failed.append({"version": number, "why": error or read.error})
            return
        report.notes += [f"version {number}: {note}" for note in read.mapped.notes]
        report.imported.append(number)
        copied = read.files if copied is None else copied
        report.files += len(copied)
        report.bytes += sum(file.size for file in copied)

    def _copy_file(self, model: str, number: int, file: SourceFile) -> None:
        """Download one file from MLflow (hashing it on the way) and upload it with its
        sha256, which the server checks against the bytes it receives."""
        with tempfile.TemporaryDirectory(prefix="modelyard-import-") as folder:
            local = Path(folder) / "file"
            sha256 = self.source.save(file, local)
            self.client.upload_file(model, number, file.path, local, sha256=sha256)

    # ---- stages -------------------------------------------------------------------------

    def _apply_stages(self, model: dict, versions: list[dict], numbers: dict[int, int],
                      report: ModelReport) -> None:
        plans, notes = mapping.plan_stages(model, versions)
        report.notes += notes
        here = {} if report.created and self.dry_run else {
            stage["name"]: stage for stage in self.client.list_stages(report.target)}
        for plan in plans:
            entry = {"stage": plan.stage, "mlflow_version": plan.mlflow_version,
                     "origin": plan.origin, "version": numbers.get(plan.mlflow_version)}
            try:
                entry.update(self._apply_stage(plan, here.get(plan.stage), entry["version"],
                                               report))
            except ModelyardError as exc:
                if isinstance(exc, (Unauthorized, Forbidden)):
                    raise
                entry.update(action="failed", why=f"{exc.title}: {exc.detail}")
                report.failed.append({"stage": plan.stage, "why": entry["why"]})
            report.stages.append(entry)

    def _apply_stage(self, plan: mapping.StagePlan, stage: dict | None, number: int | None,
                     report: ModelReport) -> dict:
        holder = (stage or {}).get("holder")
        if number is None and not (self.dry_run and plan.mlflow_version in report.imported):
            return {"action": "skipped",
                    "why": f"MLflow version {plan.mlflow_version} was not imported"}
        if holder and number is not None and holder["version"] == number:
            return {"action": "unchanged"}
        if holder and not self._moved_by_import(report.target, plan.stage):
            return {"action": "skipped", "why": f"version {holder['version']} holds {plan.stage} "
                                                "here, moved there since the import"}
        if self.dry_run:
            return {"action": "would set"}
        if stage is None:
            self.client.declare_stage(report.target, plan.stage,
                                      description=f"MLflow {plan.origin}")
        self.client.promote(
            report.target, number, stage=plan.stage, force=True, imported_from="mlflow",
            expected_current_version=holder["version"] if holder else None,
            reason=f"imported from MLflow {self.source.uri}: {report.name} version "
                   f"{plan.mlflow_version} held {plan.origin}")
        return {"action": "set"}

    def _moved_by_import(self, model: str, stage: str) -> bool:
        moves = self.client.history(model, stage=stage, limit=1)
        return bool(moves) and moves[0]["actor"] == ACTOR

    def _archive(self, versions: list[dict], numbers: dict[int, int], report: ModelReport) -> None:
        """Label the versions MLflow archived `archived` here, unless they moved since."""
        for number in mapping.archived_versions(versions):
            if number not in numbers or self.dry_run:
                continue
            view = self.client.get_version(report.target, numbers[number])
            if view["stage"] == "none" and not view.get("stages"):
                self.client.set_stage(report.target, numbers[number], "archived",
                                      reason=f"archived in MLflow {self.source.uri}")
