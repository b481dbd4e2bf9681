"""Reading an MLflow tracking server through its REST API (2.x and 3.x) with requests: registered
models, their versions, the runs behind them, and the files under each version's source, with
or without the server's artifact proxy. No mlflow package is needed."""
from __future__ import annotations

import hashlib
import os
import posixpath
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

API = "/api/2.0/mlflow"
PAGE = 1000
CHUNK = 1 << 20
LOGGED_MODEL = re.compile(r"^models:/(m-[0-9a-f]+)/?$")


class MlflowError(Exception):
    """MLflow answered with an error, or something it holds cannot be read."""


@dataclass(frozen=True)
class SourceFile:
    """One file under a version's source: its path in the version, its size, and where MLflow
    serves its bytes."""
    path: str
    size: int
    url: str
    params: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Listing:
    """How one source's files are listed and fetched: the listing route, the parameter naming
    the folder, the folder the version's files start at, and how a file's bytes are asked for
    (`fetch_key` names the file's parameter; empty: the path goes in the URL)."""
    list_url: str
    folder_key: str
    root: str
    fetch_url: str
    fetch_key: str
    common: tuple[tuple[str, str], ...] = ()


class MlflowSource:
    """One MLflow tracking server. Credentials as MLflow's own client takes them:
    MLFLOW_TRACKING_TOKEN (bearer), or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD."""

    def __init__(self, tracking_uri: str, *, timeout: float = 60) -> None:
        self.uri = tracking_uri.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        retry = Retry(total=5, connect=1, backoff_factor=0.3, allowed_methods={"GET"},
                      status_forcelist=(429, 502, 503, 504), raise_on_status=False)
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        if token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
            self.session.headers["Authorization"] = f"Bearer {token}"
        elif user := os.environ.get("MLFLOW_TRACKING_USERNAME"):
            self.session.auth = (user, os.environ.get("MLFLOW_TRACKING_PASSWORD", ""))
        self._experiments: dict[str, str] = {}

    def _request(self, url: str, **kwargs) -> requests.Response:
        try:
            response = self.session.get(url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise MlflowError(f"MLflow at {self.uri} did not answer: {exc}") from exc
        if not response.ok:
            response.close()
            raise MlflowError(_error_text(response))
        return response

    def _get(self, route: str, **params) -> dict:
        return self._request(self.uri + route, params=params).json()

    def server_version(self) -> str:
        """MLflow's version string (also a check that a tracking server answers at all)."""
        try:
            return self._request(f"{self.uri}/version").text.strip()
        except MlflowError as exc:
            raise MlflowError(f"no MLflow tracking server answers at {self.uri}: {exc}") from exc

    def model_names(self) -> list[str]:
        """Every registered model's name, in name order."""
        names, token = [], None
        while True:
            page = self._get(f"{API}/registered-models/search", max_results=PAGE,
                             **({"page_token": token} if token else {}))
            names += [model["name"] for model in page.get("registered_models", [])]
            token = page.get("next_page_token")
            if not token:
                return sorted(names)

    def registered_model(self, name: str) -> dict:
        """The registered model with its description, tags and aliases; raises MlflowError."""
        return self._get(f"{API}/registered-models/get", name=name)["registered_model"]

    def versions(self, name: str) -> list[dict]:
        """Every version of a model, oldest first."""
        versions, token = [], None
        quoted = name.replace("'", "\\'")
        while True:
            page = self._get(f"{API}/model-versions/search", filter=f"name='{quoted}'",
                             max_results=PAGE, **({"page_token": token} if token else {}))
            versions += page.get("model_versions", [])
            token = page.get("next_page_token")
            if not token:
                return sorted(versions, key=lambda version: int(version["version"]))

    def run(self, run_id: str) -> dict | None:
        """The run (info, data, inputs), or None when MLflow no longer has it."""
        try:
            return self._get(f"{API}/runs/get", run_id=run_id)["run"]
        except MlflowError:
            return None

    def experiment_name(self, experiment_id: str) -> str | None:
        if experiment_id not in self._experiments:
            try:
                found = self._get(f"{API}/experiments/get", experiment_id=experiment_id)
                self._experiments[experiment_id] = found["experiment"]["name"]
            except MlflowError:
                return None
        return self._experiments[experiment_id]

    def files(self, version: dict, run: dict | None) -> list[SourceFile]:
        """Every file under the version's source, paths relative to it; raises MlflowError when
        the source is somewhere the tracking server does not serve."""
        listing = self._listing(version, run)
        found: list[SourceFile] = []
        for path, size in self._walk(listing, listing.root):
            relative = posixpath.relpath(path, listing.root) if listing.root else path
            if listing.fetch_key:
                url, params = listing.fetch_url, (*listing.common, (listing.fetch_key, path))
            else:
                url, params = f"{listing.fetch_url}/{urllib.parse.quote(path)}", listing.common
            found.append(SourceFile(relative, size, url, params))
        return sorted(found, key=lambda file: file.path)

    def _walk(self, listing: _Listing, folder: str) -> Iterator[tuple[str, int]]:
        params = dict(listing.common)
        if folder:
            params[listing.folder_key] = folder
        page = self._get(listing.list_url, **params)
        for entry in page.get("files", []):
            path = entry["path"]
            if folder and not path.startswith(folder + "/"):
                path = posixpath.join(folder, posixpath.basename(path))
            if entry.get("is_dir"):
                yield from self._walk(listing, path)
            else:
                yield path, int(entry.get("file_size", 0))

    def _listing(self, version: dict, run: dict | None) -> _Listing:
        source = version.get("source") or ""
        model_id = version.get("model_id") or (m.group(1) if (m := LOGGED_MODEL.match(source)) else None)
        if model_id:  # MLflow 3: a logged model
            return _Listing(f"{API}/logged-models/{model_id}/artifacts/directories",
                            "artifact_directory_path", "",
                            f"{self.uri}/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
                            "artifact_file_path")
        run_path = _run_relative(source, version.get("run_id"), run)
        if run_path is not None:
            run_id, path = run_path
            return _Listing(f"{API}/artifacts/list", "path", path, f"{self.uri}/get-artifact",
                            "path", (("run_id", run_id),))
        if source.startswith("mlflow-artifacts:"):  # served by the artifact proxy
            path = urllib.parse.urlparse(source).path.strip("/")
            return _Listing("/api/2.0/mlflow-artifacts/artifacts", "path", path,
                            f"{self.uri}/api/2.0/mlflow-artifacts/artifacts", "")
        raise MlflowError(f"source {source!r} is neither a run's artifacts, a logged model nor "
                          "served by the tracking server's artifact proxy")

    def save(self, file: SourceFile, local: Path) -> str:
        """Write the file's bytes to `local`; returns their sha256. Raises MlflowError when
        they cannot be read or are not as many as MLflow listed."""
        digest, size = hashlib.sha256(), 0
        try:
            with self._request(file.url, params=file.params, stream=True) as response, \
                    open(local, "wb") as fh:
                for chunk in response.iter_content(CHUNK):
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        except requests.RequestException as exc:
            raise MlflowError(f"{file.path}: the download broke off: {exc}") from exc
        if size != file.size:
            raise MlflowError(f"{file.path}: MLflow sent {size} bytes of the {file.size} it listed")
        return digest.hexdigest()


def _run_relative(source: str, run_id: str | None, run: dict | None) -> tuple[str, str] | None:
    """(run id, path inside the run's artifacts) when the source lies under a run's artifacts:
    `runs:/<id>/<path>`, or the run's resolved artifact location (what MLflow 2 records)."""
    if source.startswith("runs:/"):
        found_id, _, path = source.removeprefix("runs:/").partition("/")
        return found_id, path.strip("/")
    root = ((run or {}).get("info") or {}).get("artifact_uri", "").rstrip("/")
    if run_id and root and (source == root or source.startswith(root + "/")):
        return run_id, source[len(root):].strip("/")
    return None


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
        return f"{response.status_code} {body.get('error_code', '')}: {body.get('message', '')}"
    except ValueError:
        return f"{response.status_code} {response.reason}"
