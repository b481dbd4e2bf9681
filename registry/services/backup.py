"""Backup and restore of the embedded default: the SQLite database, copied online and consistent
with SQLite's backup API, plus every artifact blob that copy references and the webhook key.

PostgreSQL + S3 deployments back up with `pg_dump` and bucket versioning instead
(docs/deploy.md). A backup folder holds `modelyard.db`, `artifacts/` (a local store),
`webhook-secret.key` when the key lives in the data folder, and `manifest.json`.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Iterator

from registry.db import sqlite_path
from registry.domain.errors import Conflict, InvalidInput, NotFound
from registry.storage import ArtifactStore
from registry.storage.local import LocalStore
from registry.services.timefmt import rfc3339, utcnow
from webhooks.secrets import KEY_FILE

DATABASE_FILE, ARTIFACTS_DIR, MANIFEST = "modelyard.db", "artifacts", "manifest.json"
FORMAT = 1


class _StreamOf:
    """A file-like reader over a blob's chunks, for `ArtifactStore.put`."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.pending = chunks, b""

    def read(self, size: int = -1) -> bytes:
        while not self.pending:
            try:
                self.pending = next(self.chunks)
            except StopIteration:
                return b""
        size = len(self.pending) if size is None or size < 0 else size
        chunk, self.pending = self.pending[:size], self.pending[size:]
        return chunk


def _copy_blobs(blobs: list[tuple[str, int]], source: ArtifactStore,
                target: ArtifactStore) -> int:
    """Copy each blob, re-hashed on the way (the target refuses bytes of another sha256).
    Returns the bytes copied."""
    copied = 0
    for sha256, size in blobs:
        if target.size(sha256) == size:
            continue
        if source.size(sha256) is None:
            raise NotFound(f"blob {sha256}, referenced by a version, is missing from the store "
                           "(`modelyard artifacts verify` lists the versions it breaks)")
        target.put(_StreamOf(source.read(sha256)), max_bytes=size, expected_sha256=sha256,
                   expected_size=size)
        copied += size
    return copied


def _read_only(database_file: Path) -> sqlite3.Connection:
    """Opened for reading only: a missing file is an error, never a new empty database."""
    return sqlite3.connect(f"{database_file.resolve().as_uri()}?mode=ro", uri=True)


def _referenced_blobs(database_file: Path) -> list[tuple[str, int]]:
    connection = _read_only(database_file)
    try:
        return connection.execute("SELECT DISTINCT sha256, size FROM version_file "
                                  "ORDER BY sha256").fetchall()
    finally:
        connection.close()


def _check_integrity(database_file: Path) -> None:
    try:
        connection = _read_only(database_file)
        try:
            verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
            connection.execute("SELECT 1 FROM version_file LIMIT 1")
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise InvalidInput(f"{database_file} is not a readable Modelyard database: {exc}") from None
    if verdict != "ok":
        raise InvalidInput(f"{database_file} failed SQLite's integrity check: {verdict}")


def embedded_database(config: dict) -> Path:
    """The SQLite file backup and restore work on. Raises InvalidInput for PostgreSQL, whose
    backups are pg_dump and bucket versioning (docs/deploy.md)."""
    path = sqlite_path(config)
    if path is None:
        raise InvalidInput("backup and restore cover the embedded SQLite default; for "
                           "PostgreSQL + S3 use pg_dump and bucket versioning (docs/deploy.md)")
    return path


def _empty_folder(folder: Path, what: str) -> None:
    if folder.exists() and any(folder.iterdir()):
        raise Conflict(f"{what} {folder} is not empty")
    folder.mkdir(parents=True, exist_ok=True)


def backup(database_file: Path, destination: Path, *, store: ArtifactStore, data_dir: Path,
           now: dt.datetime | None = None) -> dict:
    """Copy the live SQLite database (consistent: one backup step under a read transaction, so
    writers carry on), then every blob that copy references, into an empty `destination`.

    Returns the manifest. Raises Conflict when `destination` is not empty, NotFound when a
    referenced blob is missing from the store.
    """
    _empty_folder(destination, "backup folder")
    os.chmod(destination, 0o700)  # it holds the webhook key and token hashes
    copy = destination / DATABASE_FILE
    source, target = _read_only(database_file), sqlite3.connect(copy)
    try:
        source.backup(target)  # pages=-1: the whole database in one step
    finally:
        source.close()
        target.close()
    _check_integrity(copy)
    blobs = _referenced_blobs(copy)
    copied = _copy_blobs(blobs, store, LocalStore((destination / ARTIFACTS_DIR).resolve()))
    key = data_dir / KEY_FILE
    if key.exists():
        shutil.copy2(key, destination / KEY_FILE)
    manifest = {"format": FORMAT, "created_at": rfc3339(now or utcnow()), "database": DATABASE_FILE,
                "blobs": len(blobs), "bytes": copied, "webhook_key": key.exists()}
    (destination / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def restore(source: Path, database_file: Path, *, store: ArtifactStore, data_dir: Path) -> dict:
    """Restore a backup into a data folder with no database: blobs into the configured store
    (re-hashed), the webhook key, then the database last, so an interrupted restore leaves no
    database behind and can simply be run again.

    Returns the backup's manifest. Raises InvalidInput for a folder that is not a readable
    backup, Conflict when a database (or another webhook key) is already there.
    """
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError):
        raise InvalidInput(f"{source} is not a Modelyard backup (no readable {MANIFEST})") from None
    if manifest.get("format") != FORMAT:
        raise InvalidInput(f"{source} has backup format {manifest.get('format')}, not {FORMAT}")
    if database_file.exists():
        raise Conflict(f"{database_file} exists: restore into a data folder with no database")
    _check_integrity(source / DATABASE_FILE)
    _copy_blobs(_referenced_blobs(source / DATABASE_FILE),
                LocalStore((source / ARTIFACTS_DIR).resolve()), store)
    _restore_key(source / KEY_FILE, data_dir / KEY_FILE)
    database_file.parent.mkdir(parents=True, exist_ok=True)
    partial = database_file.with_name(f".{database_file.name}.restoring")
    shutil.copyfile(source / DATABASE_FILE, partial)
    os.replace(partial, database_file)
    return manifest


def _restore_key(saved: Path, target: Path) -> None:
    if not saved.exists():
        return
    if target.exists() and target.read_bytes() != saved.read_bytes():
        raise Conflict(f"{target} holds another webhook key; move it away to restore this backup")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(saved, target)
