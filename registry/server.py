"""Running the app under gunicorn (gthread) from `modelyard serve`."""
from __future__ import annotations

import os
import sys
from importlib.metadata import version
from pathlib import Path

from gunicorn.app.base import BaseApplication

from registry.app import create_app
from registry.buffered_worker import configured
from registry.config import redact_url
from registry.db import database
from registry.services import tokens
from registry.startup import open_registry
from registry.process import prepare_serving_process
from registry.worker import start_in_background
from webhooks.dispatcher import Dispatcher


class _Server(BaseApplication):
    def __init__(self, config: dict) -> None:
        self.modelyard_config = config
        super().__init__()

    def load_config(self) -> None:
        server = self.modelyard_config["server"]
        worker = configured(server["request_timeout_s"],
                            self.modelyard_config["api"]["max_json_bytes"])
        settings = {"bind": f"{server['host']}:{server['port']}", "worker_class": worker,
                    "workers": worker_count(server["workers"]), "threads": server["threads"],
                    "accesslog": "-",
                    "timeout": 120, "graceful_timeout": 30,
                    # the worker caps a request's head at 64 KiB, and the app answers an overlong
                    # path with a problem; gunicorn's own limit would answer in HTML
                    "limit_request_line": 0,
                    # one control socket per user would be shared by every server on the host
                    "control_socket_disable": True}
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        app = create_app(config=self.modelyard_config)
        if self.modelyard_config["webhook"]["dispatch_in_serve"]:  # single node: one worker
            Dispatcher(app.extensions["modelyard_webhooks"]).start()
        if self.modelyard_config["schedule"]["run_in_serve"]:
            start_in_background(self.modelyard_config, app.extensions["modelyard_store"])
        prepare_serving_process()
        return app


LOOPBACK = ("127.0.0.1", "::1", "localhost")
MAX_AUTO_WORKERS = 8  # each process has its own database pool: keep PostgreSQL's share sane


def worker_count(setting: int) -> int:
    """`server.workers`, where 0 means one process per CPU core (at most MAX_AUTO_WORKERS):
    requests are CPU-bound Python, so a second core needs a second process."""
    return setting or min(os.cpu_count() or 1, MAX_AUTO_WORKERS)


def run_server(config: dict) -> None:
    """Create the data folder and schema, then serve until stopped. Without auth, only on
    loopback: raises SystemExit for any other address."""
    if not config["auth"]["enabled"] and config["server"]["host"] not in LOOPBACK:
        raise SystemExit(f"modelyard: auth.enabled is false, so the server will only listen on "
                         f"loopback, not on {config['server']['host']}")
    open_registry(config, create=True)  # once, before the workers: they then find it current
    token = None
    if config["auth"]["enabled"]:
        with database.connection_context():
            token = tokens.bootstrap(config["auth"]["admin_token"] or None)
    print(banner(config, token), file=sys.stderr, flush=True)
    _Server(config).run()


def banner(config: dict, token: str | None) -> str:
    """Where to go next: the console, API and docs URLs, where the data lives, a one-time
    token."""
    server = config["server"]
    host = "127.0.0.1" if server["host"] in ("0.0.0.0", "::") else server["host"]
    base = server["public_url"] or f"http://{host}:{server['port']}"
    data = redact_url(config["database"]["url"]) or f"{Path(server['data_dir']).resolve()} (SQLite)"
    lines = [f"Modelyard {version('modelyard')} is starting", f"  UI    {base}/ui/",
             f"  API   {base}/api/v1",
             f"  Docs  {base}/docs", f"  Data  {data}"]
    if token:
        lines += [f"  Token {token}",
                  "        an admin token, shown this once: send it as "
                  "`Authorization: Bearer <token>` and make named ones with "
                  "`modelyard tokens create`"]
    if not config["auth"]["enabled"]:
        lines.append("  Auth  off: every caller is an admin (loopback only)")
    return "\n".join(["", *lines, ""])
