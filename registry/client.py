"""The Python client: every API operation, plus helpers for the jobs people do most.

    from registry.client import Client
    Client("http://models:8080", token).register("fraud", "out/", metrics={"auc": 0.91})

The URL and token default to MODELYARD_URL / MODELYARD_TOKEN, then to the client config file
(`~/.config/modelyard/client.toml`, or the file MODELYARD_CLIENT_CONFIG names) with keys `url`
and `token`. Errors arrive as typed exceptions built from the server's problem+json. This module
needs only requests (and rich for progress bars), not the server's dependencies.
"""
from __future__ import annotations

import base64
import hashlib
import os
import tomllib
import urllib.parse
import uuid
from contextlib import nullcontext
from types import EllipsisType
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Iterator

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

DEFAULT_URL = "http://127.0.0.1:8080"
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = (429, 502, 503, 504)
CHUNK = 1 << 20
STAGES = ("production", "staging")
EVENT_PAGE = 1000


# ---- errors -------------------------------------------------------------------------------

class ModelyardError(Exception):
    """An error answer from the server; `problem` is its RFC 9457 body."""

    def __init__(self, status: int, problem: dict) -> None:
        self.status, self.problem = status, problem
        self.title = problem.get("title") or f"HTTP {status}"
        self.detail = problem.get("detail") or ""
        self.type = problem.get("type", "")
        super().__init__(f"{self.title}: {self.detail}" if self.detail else self.title)


class BadRequest(ModelyardError):
    """400, 413 or 422: the request itself is wrong; `problem['errors']` names the fields."""


class Unauthorized(ModelyardError):
    """401: no token, or an unknown or revoked one."""


class Forbidden(ModelyardError):
    """403: the token's role is too low; `problem['required_role']` says which is needed."""


class NotFound(ModelyardError):
    """404: no such model, version, stage holder, webhook, report..."""


class Conflict(ModelyardError):
    """409: the request conflicts with the current state (e.g. no rollback target)."""


class PreconditionFailed(Conflict):
    """412: a compare-and-set lost: the stage moved; `current_version` is where it is now."""

    @property
    def current_version(self) -> int | None:
        return self.problem.get("current_version")


class CriteriaNotMet(ModelyardError):
    """422 criteria-not-met: `evaluation` holds each rule's result and message."""

    @property
    def evaluation(self) -> dict:
        return self.problem.get("evaluation", {})


class ServerError(ModelyardError):
    """5xx after the retries ran out."""


class ChecksumMismatch(Exception):
    """A downloaded file's sha256 is not the one the registry recorded; the file was not kept."""


def _error_for(response: requests.Response) -> ModelyardError:
    try:
        problem = response.json()
        if not isinstance(problem, dict):
            raise ValueError
    except ValueError:
        problem = {"title": response.reason or f"HTTP {response.status_code}",
                   "detail": response.text[:500]}
    status = response.status_code
    if status == 422 and str(problem.get("type", "")).endswith("/criteria-not-met"):
        return CriteriaNotMet(status, problem)
    kind = {401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
            412: PreconditionFailed}.get(status)
    if kind is None:
        kind = ServerError if status >= 500 else BadRequest
    return kind(status, problem)


# ---- configuration ------------------------------------------------------------------------

def client_settings(url: str | None = None, token: str | None = None) -> tuple[str, str | None]:
    """URL and token: arguments, then MODELYARD_URL / MODELYARD_TOKEN, then the config file."""
    path = Path(os.environ.get("MODELYARD_CLIENT_CONFIG")
                or Path.home() / ".config" / "modelyard" / "client.toml")
    stored: dict = {}
    if path.is_file():
        with open(path, "rb") as fh:
            stored = tomllib.load(fh)
    url = url or os.environ.get("MODELYARD_URL") or stored.get("url") or DEFAULT_URL
    token = token or os.environ.get("MODELYARD_TOKEN") or stored.get("token")
    return url.rstrip("/"), token


def _session(token: str | None, retries: int, methods: frozenset[str]) -> requests.Session:
    session = requests.Session()
    # a refused connection is tried once more at once, not for seconds: nothing listening is
    # an answer (a wrong URL, a stopped server); resets and 503s are what retries are for
    retry = Retry(total=retries, connect=1, backoff_factor=0.3, status_forcelist=RETRY_STATUSES,
                  allowed_methods=methods, respect_retry_after_header=True,
                  raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.headers["User-Agent"] = "modelyard-client/1"
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def _quote(value: Any) -> str:
    return urllib.parse.quote(str(value), safe="")


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


class Client:
    """A Modelyard API client; safe to share between threads of one process.

    GET, PUT and DELETE are retried on resets and 429/502/503/504 (honouring Retry-After); a
    refused connection is tried once more at once, then raises requests.ConnectionError. POSTs
    are retried only when they carry an Idempotency-Key, which promote, rollback and version
    creation always send.
    """

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 timeout: float = 60, retries: int = 5, progress: bool | None = None) -> None:
        self.url, token = client_settings(url, token)
        self.timeout, self.progress = timeout, progress
        self._plain = _session(token, retries, IDEMPOTENT)
        self._keyed = _session(token, retries, IDEMPOTENT | {"POST"})

    # ---- transport --------------------------------------------------------------------------

    def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
                headers: dict | None = None, data: Any = None, stream: bool = False,
                timeout: float | None = None) -> requests.Response:
        """Send one request to `/api/v1` + `path`; raises the typed error for 4xx/5xx."""
        headers = dict(headers or {})
        session = self._keyed if "Idempotency-Key" in headers else self._plain
        params = {k: v for k, v in (params or {}).items() if v is not None}
        response = session.request(method, f"{self.url}/api/v1{path}", json=json, params=params,
                                   headers=headers, data=data, stream=stream,
                                   timeout=timeout or self.timeout)
        if response.status_code >= 400:
            raise _error_for(response)
        return response

    def _get(self, path: str, **params) -> Any:
        return self.request("GET", path, params=params).json()

    def _send(self, method: str, path: str, body: dict | None = None, *,
              key: str | None = None, headers: dict | None = None) -> Any:
        headers = dict(headers or {})
        if key:
            headers["Idempotency-Key"] = key
        response = self.request(method, path, json=body, headers=headers)
        return response.json() if response.content else None

    def _pages(self, path: str, limit: int | None = None, **params) -> list[dict]:
        """Every item of a paged list (up to `limit`), following `next_cursor`."""
        items: list[dict] = []
        cursor = None
        while True:
            page = self._get(path, **params, cursor=cursor,
                             limit=min(1000, limit - len(items)) if limit else 1000)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor or (limit and len(items) >= limit):
                return items

    # ---- models -----------------------------------------------------------------------------

    def list_models(self, *, q: str | None = None, tag: str | None = None,
                    stage: str | None = None, limit: int | None = None) -> list[dict]:
        return self._pages("/models", limit, q=q, tag=tag, stage=stage)

    def get_model(self, model: str) -> dict:
        return self._get(f"/models/{_quote(model)}")

    def create_model(self, name: str, *, description: str = "", tags: dict | None = None) -> dict:
        return self._send("POST", "/models", {"name": name, "description": description,
                                              "tags": tags or {}})

    def update_model(self, model: str, **fields) -> dict:
        """description, tags (None removes a tag), production_requires_admin, on_degraded."""
        return self._send("PATCH", f"/models/{_quote(model)}", fields)

    def delete_model(self, model: str) -> None:
        self._send("DELETE", f"/models/{_quote(model)}")

    # ---- versions ---------------------------------------------------------------------------

    def create_version(self, model: str, *, run: dict | None = None,
                       idempotency_key: str | None = None, **fields) -> dict:
        """A pending version; fields: description, tags, source_uri, parent_version."""
        return self._send("POST", f"/models/{_quote(model)}/versions",
                          {**fields, "run": run or {}}, key=idempotency_key or str(uuid.uuid4()))

    def list_versions(self, model: str | None = None, *, filter: str | None = None,
                      order_by: str | None = None, stage: str | None = None,
                      status: str | None = None, limit: int | None = None) -> list[dict]:
        """One model's versions, or with no model a search across all of them."""
        path = f"/models/{_quote(model)}/versions" if model else "/versions"
        return self._pages(path, limit, filter=filter, order_by=order_by, stage=stage,
                           status=status)

    def get_version(self, model: str, version: int) -> dict:
        return self._get(f"/models/{_quote(model)}/versions/{int(version)}")

    def update_version(self, model: str, version: int, **fields) -> dict:
        return self._send("PATCH", f"/models/{_quote(model)}/versions/{int(version)}", fields)

    def finalize(self, model: str, version: int) -> dict:
        return self._send("POST", f"/models/{_quote(model)}/versions/{int(version)}/finalize")

    def set_stage(self, model: str, version: int, stage: str, *, reason: str | None = None) -> dict:
        """Move a version to `none` or `archived` (promote and rollback fill stages)."""
        return self._send("POST", f"/models/{_quote(model)}/versions/{int(version)}/stage",
                          {"stage": stage, **({"reason": reason} if reason else {})})

    # ---- files ------------------------------------------------------------------------------

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

    # ---- metrics, criteria, evaluations -------------------------------------------------------

    def record_metrics(self, model: str, version: int, metrics: dict[str, float], *,
                       source: str = "evaluation", recorded_at: str | None = None) -> dict:
        body = {"metrics": metrics, "source": source}
        if recorded_at:
            body["recorded_at"] = recorded_at
        return self._send("POST", f"/models/{_quote(model)}/versions/{int(version)}/metrics", body)

    def metric_history(self, model: str, version: int, *, key: str | None = None,
                       source: str | None = None) -> list[dict]:
        return self._pages(f"/models/{_quote(model)}/versions/{int(version)}/metrics", None,
                           key=key, source=source)

    def get_criteria(self, model: str) -> dict:
        return self._get(f"/models/{_quote(model)}/criteria")

    def set_criteria(self, model: str, stages: dict[str, list[dict]]) -> dict:
        return self._send("PUT", f"/models/{_quote(model)}/criteria", {"stages": stages})

    def criteria_history(self, model: str) -> list[dict]:
        return self._pages(f"/models/{_quote(model)}/criteria/history")

    def evaluate(self, model: str, version: int, stage: str = "production") -> dict:
        return self._send("POST", f"/models/{_quote(model)}/versions/{int(version)}/evaluate",
                          {"stage": stage})

    def evaluations(self, model: str, version: int, *, stage: str | None = None) -> list[dict]:
        return self._pages(f"/models/{_quote(model)}/versions/{int(version)}/evaluations", None,
                           stage=stage)

    # ---- stages -----------------------------------------------------------------------------

    def promote(self, model: str, version: int, *, stage: str = "production",
                reason: str | None = None, force: bool = False, dry_run: bool = False,
                expected_current_version: int | None | EllipsisType = ...,
                idempotency_key: str | None = None) -> dict:
        """Promote if the version meets the stage's criteria; raises CriteriaNotMet (with the
        evaluation), PreconditionFailed when `expected_current_version` is stale, Conflict."""
        body = {"version": int(version), "stage": stage, "force": force, "dry_run": dry_run}
        if reason:
            body["reason"] = reason
        if expected_current_version is not ...:
            body["expected_current_version"] = expected_current_version
        return self._send("POST", f"/models/{_quote(model)}/promote", body,
                          key=None if dry_run else idempotency_key or str(uuid.uuid4()))

    def rollback(self, model: str, *, stage: str = "production", to_version: int | None = None,
                 reason: str | None = None, dry_run: bool = False,
                 expected_current_version: int | None | EllipsisType = ...,
                 idempotency_key: str | None = None) -> dict:
        """Return the stage to the previous good version (or `to_version`) in one call;
        raises Conflict when no version qualifies, PreconditionFailed when stale."""
        body: dict = {"stage": stage, "dry_run": dry_run}
        for key, value in (("to_version", to_version), ("reason", reason)):
            if value is not None:
                body[key] = value
        if expected_current_version is not ...:
            body["expected_current_version"] = expected_current_version
        return self._send("POST", f"/models/{_quote(model)}/rollback", body,
                          key=None if dry_run else idempotency_key or str(uuid.uuid4()))

    def stage(self, model: str, stage: str) -> dict:
        """The stage's holder with its files (path, size, sha256, url), since and ETag."""
        return self._get(f"/models/{_quote(model)}/stages/{_quote(stage)}")

    def production(self, model: str) -> dict:
        return self._get(f"/models/{_quote(model)}/production")

    def history(self, model: str, *, stage: str | None = None, at: str | None = None,
                limit: int | None = None) -> list[dict] | dict:
        """Every stage move, newest first; with `at` (RFC 3339) the holder at that instant."""
        if at:
            return self._get(f"/models/{_quote(model)}/history", stage=stage or "production", at=at)
        return self._pages(f"/models/{_quote(model)}/history", limit, stage=stage)

    # ---- events -----------------------------------------------------------------------------

    def events(self, *, after: int = 0, model: str | None = None, type: str | None = None,
               follow: bool = False, wait: int = 30) -> Iterator[dict]:
        """Events after `after` in seq order; with `follow`, long-polls for new ones forever."""
        while True:
            items = self._get("/events", after=after, model=model, type=type, limit=EVENT_PAGE,
                              wait=wait if follow else 0)["items"]
            yield from items
            if items:
                after = items[-1]["seq"]
            if not follow and len(items) < EVENT_PAGE:
                return

    # ---- webhooks, tokens, audit, reports ----------------------------------------------------

    def create_webhook(self, url: str, events: list[str], *, models: list[str] | None = None,
                       description: str | None = None) -> dict:
        body = {"url": url, "events": events, "models": models}
        if description:
            body["description"] = description
        return self._send("POST", "/webhooks", body)

    def list_webhooks(self) -> list[dict]:
        return self._get("/webhooks")

    def get_webhook(self, webhook_id: int) -> dict:
        return self._get(f"/webhooks/{int(webhook_id)}")

    def update_webhook(self, webhook_id: int, **fields) -> dict:
        return self._send("PATCH", f"/webhooks/{int(webhook_id)}", fields)

    def delete_webhook(self, webhook_id: int) -> None:
        self._send("DELETE", f"/webhooks/{int(webhook_id)}")

    def test_webhook(self, webhook_id: int) -> dict:
        return self._send("POST", f"/webhooks/{int(webhook_id)}/test")

    def rotate_webhook_secret(self, webhook_id: int) -> dict:
        return self._send("POST", f"/webhooks/{int(webhook_id)}/rotate-secret")

    def deliveries(self, webhook_id: int, *, status: str | None = None,
                   limit: int | None = None) -> list[dict]:
        return self._pages(f"/webhooks/{int(webhook_id)}/deliveries", limit, status=status)

    def redeliver(self, delivery_id: int) -> dict:
        return self._send("POST", f"/deliveries/{int(delivery_id)}/redeliver")

    def create_token(self, name: str, role: str) -> dict:
        return self._send("POST", "/tokens", {"name": name, "role": role})

    def list_tokens(self) -> list[dict]:
        return self._get("/tokens")

    def revoke_token(self, token_id: int) -> dict:
        return self._send("DELETE", f"/tokens/{int(token_id)}")

    def audit(self, *, model: str | None = None, actor: str | None = None,
              action: str | None = None, since: str | None = None,
              limit: int | None = None) -> list[dict]:
        return self._pages("/audit", limit, model=model, actor=actor, action=action, since=since)

    def create_report(self, *, models: list[str] | None = None,
                      period_days: int | None = None) -> dict:
        body: dict = {}
        if models:
            body["models"] = models
        if period_days:
            body["period_days"] = period_days
        return self._send("POST", "/reports", body)

    def list_reports(self, *, limit: int | None = None) -> list[dict]:
        return self._pages("/reports", limit)

    def get_report(self, report_id: int, *, format: str = "json") -> dict | str:
        """The report as a dict (json), or the HTML page or CSV text."""
        response = self.request("GET", f"/reports/{int(report_id)}", params={"format": format})
        return response.json() if format == "json" else response.text

    def schedules(self) -> list[dict]:
        """Each scheduled job with its cron, next fire and last run."""
        return self._get("/schedules")

    def job_runs(self, job: str, *, limit: int = 50) -> list[dict]:
        return self._get(f"/schedules/{_quote(job)}/runs", limit=limit)

    # ---- helpers ----------------------------------------------------------------------------

    def ensure_model(self, model: str) -> dict:
        """The model, created when it does not exist yet (a race with another creator is fine)."""
        try:
            return self.get_model(model)
        except NotFound:
            try:
                return self.create_model(model)
            except Conflict:
                return self.get_model(model)

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
        """Download every file of a version (a number, or `production` / `staging` for the
        holder) into the folder `dest`, verifying each sha256. Returns the manifest used."""
        if str(version_or_stage) in STAGES:
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
