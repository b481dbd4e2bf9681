"""Content-addressed artifact stores: blobs keyed by their sha256, written once, read by range.

Both backends (local folder, S3/MinIO) keep the same contract, exercised by one test suite:
`put` streams and hashes without holding the file in memory, and a failed or mismatched upload
leaves no blob behind.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Protocol

from registry.domain.errors import ArtifactTooLarge, DigestMismatch, IncompleteUpload

CHUNK = 1 << 20


@dataclass(frozen=True)
class Blob:
    sha256: str
    size: int


def blob_key(sha256: str) -> str:
    """`sha256/ab/cdef...`: a fan-out folder so no directory holds millions of entries."""
    return f"sha256/{sha256[:2]}/{sha256[2:]}"


class HashingReader:
    """Wraps a stream: hashes and counts what passes through, and stops past `max_bytes`."""

    def __init__(self, source: BinaryIO, max_bytes: int) -> None:
        self.source, self.max_bytes = source, max_bytes
        self.digest, self.size = hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.read_unhashed(size)
        self.digest.update(chunk)
        return chunk

    def read_unhashed(self, size: int = -1) -> bytes:
        """A chunk counted against the limit; the caller must pass it to `digest.update`, in
        order (the local store hashes on its writer thread)."""
        chunk = self.source.read(size if size and size > 0 else CHUNK)
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise ArtifactTooLarge(f"the file is larger than the limit of {self.max_bytes} bytes")
        return chunk

    def finish(self, expected_sha256: str | None, expected_size: int | None = None) -> Blob:
        """The blob read so far; raises IncompleteUpload when fewer bytes arrived than declared
        (a server may report a dropped connection as a plain end of stream), DigestMismatch when
        they are not what the client announced."""
        if expected_size is not None and self.size != expected_size:
            raise IncompleteUpload(f"received {self.size} of the {expected_size} bytes declared")
        actual = self.digest.hexdigest()
        if expected_sha256 is not None and actual != expected_sha256:
            raise DigestMismatch(f"the body hashes to sha256 {actual}, not the {expected_sha256} "
                                 "the client sent", errors={"Content-Digest": ["mismatch"]})
        return Blob(actual, self.size)


class ArtifactStore(Protocol):
    def put(self, source: BinaryIO, *, max_bytes: int, expected_sha256: str | None = None,
            expected_size: int | None = None) -> Blob:
        """Store the stream's bytes under their sha256 (once, however often they are sent);
        nothing is stored when the size or digest is not the one expected."""

    def size(self, sha256: str) -> int | None:
        """The stored size, or None when the blob is missing."""

    def read(self, sha256: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The blob's bytes from `start`, `length` of them (all when None), in chunks."""

    def delete(self, sha256: str) -> None:
        """Remove the blob; missing blobs are ignored."""

    def blobs(self) -> Iterator[tuple[str, int, dt.datetime]]:
        """Every stored blob as (sha256, size, last modified)."""

    def presigned_url(self, sha256: str, expires: dt.timedelta) -> str | None:
        """A short-lived direct download URL, or None when the store has none (local)."""

    def check(self) -> None:
        """Raise when the store is unreachable or not writable."""


def open_store(config: dict) -> ArtifactStore:
    """The configured store; the S3 bucket is created when missing."""
    from pathlib import Path

    storage = config["storage"]
    if storage["backend"] == "local":
        from registry.storage.local import LocalStore
        root = storage["local_dir"] or str(Path(config["server"]["data_dir"]) / "artifacts")
        return LocalStore(Path(root).resolve())
    from minio import Minio

    from registry.storage.s3 import S3Store
    client = Minio(storage["s3_endpoint"], access_key=storage["s3_access_key"] or None,
                   secret_key=storage["s3_secret_key"] or None, region=storage["s3_region"],
                   secure=storage["s3_secure"])
    store = S3Store(client, storage["s3_bucket"])
    store.ensure_bucket()
    return store
