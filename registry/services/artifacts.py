"""Version files: streamed into the artifact store, recorded in the version's manifest."""
from __future__ import annotations

import datetime as dt
from typing import BinaryIO

from registry.db import write_transaction
from registry.domain.errors import Conflict, NotFound
from registry.domain.paths import validate_file_path
from registry.models import ModelVersion, VersionFile
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
                now: dt.datetime | None = None) -> dict:
    """Stream a file into the store, then record it in the version's manifest.

    The bytes are written (and made durable) before the transaction that points at them, so no
    network or disk work happens inside it; a rejected upload records nothing. Re-uploading a path
    of a pending version replaces it. Raises InvalidInput (path), ModelNotFound, VersionNotFound,
    Conflict (version not pending), DigestMismatch, ArtifactTooLarge.
    """
    validate_file_path(path)
    _require_pending(model_name, find_version(find_model(model_name), number))
    blob = store.put(body, max_bytes=max_bytes, expected_sha256=expected_sha256)
    now = now or utcnow()
    with write_transaction():
        model = find_model(model_name, for_update=True)
        row = find_version(model, number, for_update=True)
        _require_pending(model_name, row)
        VersionFile.delete().where((VersionFile.version == row) & (VersionFile.path == path)).execute()
        entry = VersionFile.create(version=row, path=path, size=blob.size, sha256=blob.sha256,
                                   created_at=now)
        append_event("version.file_uploaded", actor=actor, model=model.name, version=number,
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
