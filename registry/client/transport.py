"""How the client reaches the server: the URL and token it uses, a session that retries what
is safe to retry, and the request plumbing every API group builds on."""
from __future__ import annotations

import os
import tomllib
import urllib.parse
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from registry.client.errors import error_for


DEFAULT_URL = "http://127.0.0.1:8080"

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

RETRY_STATUSES = (429, 502, 503, 504)

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

def retrying_session(token: str | None, retries: int, methods: frozenset[str]) -> requests.Session:
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

def quote(value: Any) -> str:
    return urllib.parse.quote(str(value), safe="")

class Transport:
    """Requests to `/api/v1` with the typed errors; the API groups build on it."""

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 timeout: float = 60, retries: int = 5, progress: bool | None = None) -> None:
        self.url, token = client_settings(url, token)
        self.timeout, self.progress = timeout, progress
        self._plain = retrying_session(token, retries, IDEMPOTENT)
        self._keyed = retrying_session(token, retries, IDEMPOTENT | {"POST"})

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
            raise error_for(response)
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
