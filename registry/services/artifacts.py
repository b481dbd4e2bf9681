"""Version files: streamed into the artifact store, recorded in the version's manifest."""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import BinaryIO, Iterator

from registry.db import write_transaction
from registry.domain import events
from registry.domain.errors import Conflict, InvalidInput, NotFound
from registry.domain.paths import validate_file_path
from registry.models import ModelVersion, RegisteredModel, VersionFile
from registry.services.evaluations import EvaluationInputs, evaluate_for_all_stages
from registry.services.events import append_event
from registry.services.lookup import find_model, find_version
from registry.services.timefmt import utcnow
from registry.storage import ArtifactStore


def _require_pending(model_name: str, row: ModelVersion) -> None:
    if row.status != "pending":
        raise Conflict(f"version {row.version} of '{model_name}' is {row.status}; "
                       "its files are immutable")


def file_view(entry: VersionFile) -> dict:
    return {"path": entry.path, "size": entry.size, "sha256": entry.sha256}


def upload_file(model_name: str, number: int, path: str, body: BinaryIO, *, store: ArtifactStore,
                actor: str, max_bytes: int, expected_sha256: str | None = None,
                expected_size: int | None = None, now: dt.datetime | None = None) -> dict:
    """Stream a file into the store, then record it in the version's manifest.

    The bytes are written (and made durable) before the transaction that points at them, so no
    network or disk work happens inside it; a rejected upload records nothing. Re-uploading a path
    of a pending version replaces it. Raises InvalidInput (path), ModelNotFound, VersionNotFound,
    Conflict (version not pending), DigestMismatch, ArtifactTooLarge, IncompleteUpload (fewer
    bytes than `expected_size`, the declared Content-Length).
    """
    validate_file_path(path)
    _require_pending(model_name, find_version(find_model(model_name), number))
    blob = store.put(body, max_bytes=max_bytes, expected_sha256=expected_sha256,
                     expected_size=expected_size)
    now = now or utcnow()
    with write_transaction():
        model = find_model(model_name, for_update=True)
        row = find_version(model, number, for_update=True)
        _require_pending(model_name, row)
        VersionFile.delete().where((VersionFile.version == row) & (VersionFile.path == path)).execute()
        entry = VersionFile.create(version=row, path=path, size=blob.size, sha256=blob.sha256,
                                   created_at=now)
        append_event(events.VERSION_FILE_UPLOADED, actor=actor, model=model.name, version=number,
                     data=file_view(entry), now=now)
    return file_view(entry)


def list_files(model_name: str, number: int) -> list[dict]:
    """The version's manifest sorted by path; raises ModelNotFound, VersionNotFound."""
    row = find_version(find_model(model_name), number)
    return [file_view(entry) for entry in
            VersionFile.select().where(VersionFile.version == row).order_by(VersionFile.path)]


def get_file(model_name: str, number: int, path: str) -> dict:
    """One manifest entry; raises ModelNotFound, VersionNotFound, NotFound."""
    row = find_version(find_model(model_name), number)
    entry = VersionFile.get_or_none((VersionFile.version == row) & (VersionFile.path == path))
    if entry is None:
        raise NotFound(f"version {number} of '{model_name}' has no file {path!r}")
    return file_view(entry)


def finalize_version(model_name: str, number: int, *, actor: str,
                     now: dt.datetime | None = None) -> dict:
    """Make a pending version `ready`: its file list becomes immutable. A version without files
    needs a `source_uri`. Finalizing a ready version again changes nothing and answers the same.
    The same transaction evaluates the version for staging and production (trigger `finalize`)
    and carries the evaluations in the `version.ready` event.
    Raises ModelNotFound, VersionNotFound, InvalidInput (no files and no source_uri)."""
    from registry.services.versions import version_views

    now = now or utcnow()
    with write_transaction():
        model = find_model(model_name, for_update=True)
        row = find_version(model, number, for_update=True)
        if row.status == "pending":
            append_event(**make_ready(model, row, actor=actor, now=now))
        return version_views([row], {model.id: model.name})[0]


def make_ready(model: RegisteredModel, row: ModelVersion, *, actor: str,
               now: dt.datetime, files: list[dict] | None = None) -> dict:
    """Mark a pending version (locked by the caller) ready and evaluate it; returns the
    `version.ready` event's arguments, for the caller to append last in its transaction.
    `files` is its manifest when the caller knows it (a version created in this transaction
    has none). Raises InvalidInput when it has no files and no source_uri."""
    if files is None:
        files = [file_view(entry) for entry in VersionFile.select()
                 .where(VersionFile.version == row).order_by(VersionFile.path)]
    if not files and not row.source_uri:
        raise InvalidInput(f"version {row.version} of '{model.name}' has no files and no "
                           "source_uri", errors={"files": ["upload at least one file"]})
    row.status, row.updated_at = "ready", now
    row.save(only=[ModelVersion.status, ModelVersion.updated_at])
    return ready_event(model, row, actor=actor, now=now, files=files)


def ready_event(model: RegisteredModel, row: ModelVersion, *, actor: str, now: dt.datetime,
                files: list[dict], inputs: EvaluationInputs | None = None) -> dict:
    """Evaluate a version that has just turned ready for every stage and store the results;
    returns the `version.ready` event's arguments. `inputs` as evaluate_for_all_stages takes."""
    evaluations = evaluate_for_all_stages(model, row, trigger="finalize", actor=actor, now=now,
                                          inputs=inputs)
    return {"type_": events.VERSION_READY, "actor": actor, "model": model.name,
            "version": row.version, "now": now,
            "data": {"files": files, "evaluations": evaluations}}


def verify_version(model_name: str, number: int, *, store: ArtifactStore,
                   rehash: bool = False) -> dict:
    """Check that every file of a version is in the store with its recorded size (and, with
    `rehash`, its recorded sha256). Read-only; raises ModelNotFound, VersionNotFound."""
    results = []
    for entry in list_files(model_name, number):
        stored = store.size(entry["sha256"])
        problem = None
        if stored is None:
            problem = "missing from the artifact store"
        elif stored != entry["size"]:
            problem = f"stored size {stored} differs from recorded {entry['size']}"
        elif rehash:
            digest = hashlib.sha256()
            for chunk in store.read(entry["sha256"]):
                digest.update(chunk)
            if digest.hexdigest() != entry["sha256"]:
                problem = "content does not match its sha256"
        results.append({**entry, "ok": problem is None, "problem": problem})
    return {"model": model_name, "version": number, "ok": all(r["ok"] for r in results),
            "files": results}


def verify_versions(*, store: ArtifactStore, model_name: str | None = None,
                    number: int | None = None, rehash: bool = False) -> Iterator[dict]:
    """`verify_version` for every version, every version of one model, or one version, in
    name and number order. Read-only."""
    query = ModelVersion.select(ModelVersion.version, RegisteredModel.name).join(RegisteredModel)
    if model_name:
        query = query.where(RegisteredModel.name == model_name)
    if number:
        query = query.where(ModelVersion.version == number)
    for row in query.order_by(RegisteredModel.name, ModelVersion.version).objects():
        yield verify_version(row.name, row.version, store=store, rehash=rehash)


def collect_garbage(*, store: ArtifactStore, grace: dt.timedelta, dry_run: bool = False,
                    now: dt.datetime | None = None) -> list[str]:
    """Delete blobs that no version file references and that are older than `grace` (which
    covers uploads whose manifest row has not committed yet). Returns the sha256s removed."""
    now = now or utcnow()
    removed = []
    for sha256, _size, modified in store.blobs():
        if modified > now - grace:
            continue
        if VersionFile.select().where(VersionFile.sha256 == sha256).exists():
            continue
        if not dry_run:
            store.delete(sha256)
        removed.append(sha256)
    return removed
