"""Files: upload with digests and a progress bar, download with sha256 checks, and the
register/download helpers that do a whole folder."""
from __future__ import annotations

import base64
import hashlib
import os
import urllib.parse
from contextlib import nullcontext
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from registry.client.errors import ChecksumMismatch
from registry.client.transport import quote as _quote


CHUNK = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()

def _files_of(path: Path) -> list[tuple[str, Path]]:
    """(path in the version, local file) for a file or every file under a folder."""
    if path.is_file():
        return [(path.name, path)]
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is neither a file nor a folder")
    return [(local.relative_to(path).as_posix(), local)
            for local in sorted(path.rglob("*")) if local.is_file()]

def _progress(enabled: bool | None):
    """A rich progress display, or None when switched off (default: only on a terminal)."""
    import sys

    if enabled is False or (enabled is None and not sys.stderr.isatty()):
        return None
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                               TransferSpeedColumn)
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), console=Console(stderr=True))  # stdout stays data

class FilesAPI:
    """Version files, and registering or downloading a whole version."""

    def _file_path(self, model: str, version: int, path: str) -> str:
        return (f"/models/{_quote(model)}/versions/{int(version)}/files/"
                f"{urllib.parse.quote(path, safe='/')}")

    def upload_file(self, model: str, version: int, path: str, local: str | os.PathLike, *,
                    sha256: str | None = None, progress=None) -> dict:
        """Stream one file into a pending version with its Content-Digest; the server refuses
        it when the bytes it received hash differently."""
        local = Path(local)
        sha256 = sha256 or _sha256(local)
        size = local.stat().st_size
        digest = base64.b64encode(bytes.fromhex(sha256)).decode()
        headers = {"Content-Digest": f"sha-256=:{digest}:", "Content-Length": str(size),
                   "Content-Type": "application/octet-stream"}
        with open(local, "rb") as fh:
            body: BinaryIO = fh
            if progress is not None:  # counts bytes as requests reads them
                body = progress.wrap_file(fh, total=size, description=path)  # type: ignore
            return self.request("PUT", self._file_path(model, version, path), data=body,
                                headers=headers).json()

    def list_files(self, model: str, version: int) -> list[dict]:
        return self._get(f"/models/{_quote(model)}/versions/{int(version)}/files")

    def download_file(self, model: str, version: int, path: str, dest: str | os.PathLike, *,
                      sha256: str | None = None, progress=None) -> Path:
        """Stream one file to `dest`, checking its sha256 (the recorded one, or the ETag)
        before it replaces anything; raises ChecksumMismatch and keeps nothing otherwise."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".part")
        response = self.request("GET", self._file_path(model, version, path), stream=True)
        expected = sha256 or response.headers.get("ETag", "").strip('"')
        digest = hashlib.sha256()
        task = progress.add_task(path, total=int(response.headers.get("Content-Length", 0))) \
            if progress is not None else None
        with response, open(partial, "wb") as fh:
            for chunk in response.iter_content(CHUNK):
                fh.write(chunk)
                digest.update(chunk)
                if task is not None:
                    progress.advance(task, len(chunk))
        if digest.hexdigest() != expected:
            partial.unlink()
            raise ChecksumMismatch(f"{path}: sha256 {digest.hexdigest()} is not the recorded "
                                   f"{expected}")
        partial.replace(dest)
        return dest

    def register(self, model: str, path: str | os.PathLike, *,
                 metrics: dict[str, float] | None = None, params: dict | None = None,
                 run: dict | None = None, tags: dict | None = None,
                 description: str | None = None) -> dict:
        """Register a file or a whole folder as a new ready version of `model` (created if
        needed): create the version with its run metadata, upload every file with its
        Content-Digest (with a progress bar on a terminal), finalize. Returns the version,
        with the evaluations finalize ran. A failure leaves at most a pending version."""
        files = _files_of(Path(path))
        self.ensure_model(model)
        run = {**(run or {}), "metrics": {**(run or {}).get("metrics", {}), **(metrics or {})},
               "params": {**(run or {}).get("params", {}), **(params or {})}}
        fields = {key: value for key, value in (("tags", tags), ("description", description))
                  if value is not None}
        version = self.create_version(model, run=run, **fields)["version"]
        display = _progress(self.progress)
        with display or nullcontext():
            for name, local in files:
                self.upload_file(model, version, name, local, progress=display)
        return self.finalize(model, version)

    def download(self, model: str, version_or_stage: int | str, dest: str | os.PathLike) -> dict:
        """Download every file of a version (a number, or a stage name such as `production` or
        `canary` for its holder) into the folder `dest`, verifying each sha256. Returns the
        manifest used."""
        if not str(version_or_stage).isdigit():
            holder = self.stage(model, str(version_or_stage))
            number, files = holder["version"], holder["files"]
        else:
            number = int(version_or_stage)
            files = self.list_files(model, number)
        root = Path(dest).resolve()
        display = _progress(self.progress)
        with display or nullcontext():
            for entry in files:
                target = (root / PurePosixPath(entry["path"])).resolve()
                if root not in target.parents:  # a manifest path must stay inside dest
                    raise ValueError(f"refusing to write {entry['path']!r} outside {root}")
                self.download_file(model, number, entry["path"], target, sha256=entry["sha256"],
                                   progress=display)
        return {"model": model, "version": number, "dest": str(root), "files": files}
