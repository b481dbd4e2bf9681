"""Artifacts in a local folder: written to a temporary file, fsynced, then renamed into place."""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Iterator

from registry.storage import CHUNK, Blob, HashingReader, blob_key


def _copy_overlapped(reader: HashingReader, out: BinaryIO) -> None:
    """Copy the stream to `out`, hashing and writing each chunk on a second thread while the
    next one is received: both release the GIL, so they overlap with the receiving. One chunk
    in flight at a time keeps memory flat and the hash in order."""
    with ThreadPoolExecutor(1, thread_name_prefix="blob-writer") as writer:
        pending = None
        while chunk := reader.read_unhashed(CHUNK):
            if pending is not None:
                pending.result()
            pending = writer.submit(_absorb, reader, out, chunk)
        if pending is not None:
            pending.result()


FLUSH_EVERY = 32 << 20


def _absorb(reader: HashingReader, out: BinaryIO, chunk: bytes) -> None:
    reader.digest.update(chunk)
    view = memoryview(chunk)
    while view:  # an unbuffered write may take less than it was given
        view = view[out.write(view):]
    written = out.tell()
    if written // FLUSH_EVERY != (written - len(chunk)) // FLUSH_EVERY:
        # Start writing what came so far to disk now, without waiting (POSIX_FADV_DONTNEED
        # also keeps the page cache from filling up): the fsync before the answer then has
        # little left to wait for, instead of the whole file.
        start = (written // FLUSH_EVERY - 1) * FLUSH_EVERY
        os.posix_fadvise(out.fileno(), start, FLUSH_EVERY, os.POSIX_FADV_DONTNEED)


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.incoming = self.root / "incoming"
        self.incoming.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        return self.root / blob_key(sha256)

    def put(self, source: BinaryIO, *, max_bytes: int, expected_sha256: str | None = None,
            expected_size: int | None = None) -> Blob:
        reader = HashingReader(source, max_bytes)
        handle, temp_name = tempfile.mkstemp(dir=self.incoming)
        try:
            with os.fdopen(handle, "wb", buffering=0) as out:
                _copy_overlapped(reader, out)
                os.fsync(out.fileno())  # durable before the upload is acknowledged
            blob = reader.finish(expected_sha256, expected_size)
            target = self._path(blob.sha256)
            if target.exists():
                os.unlink(temp_name)  # identical bytes are stored once;
                os.utime(target)  # fresh mtime: the gc grace period now covers this upload too
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp_name, target)
                _fsync_dir(target.parent)
            return blob
        except BaseException:
            if os.path.exists(temp_name):
                os.unlink(temp_name)
            raise

    def size(self, sha256: str) -> int | None:
        try:
            return self._path(sha256).stat().st_size
        except FileNotFoundError:
            return None

    def read(self, sha256: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        with open(self._path(sha256), "rb") as blob:
            blob.seek(start)
            remaining = length
            while remaining is None or remaining > 0:
                chunk = blob.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)

    def blobs(self) -> Iterator[tuple[str, int, dt.datetime]]:
        for path in (self.root / "sha256").glob("*/*"):
            stat = path.stat()
            yield (path.parent.name + path.name, stat.st_size,
                   dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc))

    def presigned_url(self, sha256: str, expires: dt.timedelta) -> str | None:
        return None

    def check(self) -> None:
        if not os.access(self.incoming, os.W_OK):
            raise OSError(f"artifact folder {self.root} is not writable")


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
