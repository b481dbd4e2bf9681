"""The reference deployer, `modelyard agent`: it follows one stage of one model for one target.

It polls the stage's holder with its ETag (a 304 from the server's hot path while nothing
moves: no server thread is held while it waits, unlike a long-poll), downloads a new holder into
`DIR/versions/<version>` verifying every sha256, points `DIR/current` at it by an atomic symlink
swap, runs `--exec` with the version in its environment, and reports `serving` — or `failed`
with the command's exit status and output tail, putting `current` back to the version it
served. It heartbeats, survives the server or itself restarting (it resumes from `DIR/current`),
stops cleanly when asked, and keeps at most `keep` old versions on disk. Only requests and the
standard library: it runs where the model serves, without the server's dependencies.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from registry.client.errors import ChecksumMismatch, ModelyardError, NotFound

log = logging.getLogger(__name__)
OUTPUT_TAIL = 2000


@dataclass
class AgentSettings:
    model: str
    stage: str
    target: str
    directory: Path
    command: str | None = None
    keep: int = 3
    heartbeat_s: float = 10.0
    poll_s: float = 0.25


class Agent:
    """See the module docstring; `run(stop)` until `stop` is set."""

    def __init__(self, client, settings: AgentSettings) -> None:
        self.client, self.settings = client, settings
        self.versions = settings.directory / "versions"
        self.current_link = settings.directory / "current"
        self.failed: int | None = None  # its command failed: not retried until the stage moves
        self.last: tuple = (None, "pending", None)  # the last report, re-sent as the heartbeat
        self.etag: str | None = None
        self.desired: int | None = None

    def serving(self) -> int | None:
        """The version `current` points at (what this target serves), or None."""
        try:
            return int(os.readlink(self.current_link).rsplit("/", 1)[-1])
        except (OSError, ValueError):
            return None

    def run(self, stop: threading.Event) -> None:
        self.versions.mkdir(parents=True, exist_ok=True)
        serving = self.serving()
        self.last = (serving, "serving" if serving else "pending", None)
        last_report = 0.0
        while not stop.is_set():
            try:
                self._follow()
                if time.monotonic() - last_report >= self.settings.heartbeat_s:
                    self._report_state()
                    last_report = time.monotonic()
            except (requests.RequestException, ModelyardError, ChecksumMismatch) as exc:
                log.warning("agent %s: %s; retrying", self.settings.target, exc)
                stop.wait(1.0)
            stop.wait(self.settings.poll_s)

    def _desired(self) -> int | None:
        """The stage's holder: a conditional look-up, answered 304 while it has not moved."""
        path = f"/models/{self.settings.model}/stages/{self.settings.stage}"
        try:
            answer = self.client.request("GET", path, headers={"If-None-Match": self.etag}
                                         if self.etag else {})
        except NotFound:
            self.etag, self.desired = None, None
            return None
        if answer.status_code == 200:
            self.etag, self.desired = answer.headers.get("ETag"), answer.json()["version"]
        return self.desired

    def _follow(self) -> None:
        desired, serving = self._desired(), self.serving()
        if desired is None or desired == serving or desired == self.failed:
            return
        self._deploy(desired, serving)

    def _deploy(self, version: int, previous: int | None) -> None:
        self._report(version, "pending", f"downloading version {version}")
        self._download(version)
        self._point_current_at(version)
        outcome = self._run_command(version)
        if outcome is not None:  # the command failed: serve what served before
            if previous is not None:
                self._point_current_at(previous)
            self.failed = version
            self._report(version, "failed", outcome)
            return
        self.failed = None
        self._report(version, "serving", None)
        self._prune(version)

    def _download(self, version: int) -> None:
        final = self.versions / str(version)
        if final.is_dir():
            return
        partial = self.versions / f".{version}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        self.client.download(self.settings.model, version, partial)  # verifies every sha256
        os.replace(partial, final)

    def _point_current_at(self, version: int) -> None:
        """An atomic swap: readers see the old version or the new one, never neither."""
        temporary = self.settings.directory / f".current.{os.getpid()}"
        if temporary.is_symlink():
            temporary.unlink()
        os.symlink(f"versions/{version}", temporary)
        os.replace(temporary, self.current_link)

    def _run_command(self, version: int) -> str | None:
        """None when `--exec` succeeded (or there is none), else what went wrong."""
        if not self.settings.command:
            return None
        env = {**os.environ, "MODELYARD_MODEL": self.settings.model,
               "MODELYARD_STAGE": self.settings.stage, "MODELYARD_VERSION": str(version),
               "MODELYARD_TARGET": self.settings.target,
               "MODELYARD_MODEL_DIR": str(self.current_link)}
        done = subprocess.run(self.settings.command, shell=True, env=env, capture_output=True,
                              text=True)
        if done.returncode == 0:
            return None
        tail = (done.stdout + done.stderr)[-OUTPUT_TAIL:]
        return f"command exited with status {done.returncode}: {tail}"

    def _prune(self, serving: int) -> None:
        kept = sorted((int(p.name) for p in self.versions.iterdir() if p.name.isdigit()),
                      reverse=True)
        for number in [n for n in kept if n != serving][self.settings.keep:]:
            shutil.rmtree(self.versions / str(number), ignore_errors=True)

    def _report_state(self) -> None:
        """The heartbeat: the last report again (the server only refreshes `last_seen`)."""
        self._report(*self.last)

    def _report(self, version: int | None, state: str, detail: str | None) -> None:
        self.last = (version, state, detail)
        self.client.report_deployment(self.settings.model, self.settings.target,
                                      stage=self.settings.stage, version=version, state=state,
                                      detail=detail)
