"""The application factory."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Mapping

from flask import Flask
from prometheus_client import CollectorRegistry
from prometheus_flask_exporter import PrometheusMetrics

from registry.api import register_api
from registry.api.hot_path import StageLookups
from registry.config import load_config
from registry.console import install_console
from registry.db import database
from registry.services import tokens
from registry.startup import open_registry
from webhooks.secrets import load_or_create_key
from webhooks.settings import Settings


def _open_connection() -> None:
    database.connect(reuse_if_open=True)


def _close_connection(_exc) -> None:
    if not database.is_closed():
        database.close()


def _bootstrap_token(seed: str) -> None:
    """Seed MODELYARD_ADMIN_TOKEN, or on an empty registry print a one-time admin token."""
    with database.connection_context():
        token = tokens.bootstrap(seed or None)
    if token:
        print(f"\nModelyard: no API token exists yet, so an admin token was created. It is shown "
              f"this once:\n\n    {token}\n\nUse it as `Authorization: Bearer <token>` and "
              "create named tokens with POST /api/v1/tokens or `modelyard tokens create`.\n",
              file=sys.stderr, flush=True)


def webhook_settings(config: dict) -> Settings:
    """The webhook settings, with the key that encrypts subscription secrets."""
    key = load_or_create_key(config["webhook"]["secret_key"], config["server"]["data_dir"])
    return Settings.from_config(config["webhook"], key)


def create_app(overrides: Mapping | None = None, *, environ: Mapping[str, str] | None = None,
               config: dict | None = None) -> Flask:
    """Build the app: validated config, database bound (and upgraded when configured), routes.

    Raises ConfigError for a bad configuration.
    """
    config = config or load_config(overrides, environ)
    Path(config["server"]["data_dir"]).mkdir(parents=True, exist_ok=True)
    app = Flask("registry")
    app.config["MODELYARD"] = config
    app.config["MAX_CONTENT_LENGTH"] = config["api"]["max_json_bytes"]
    app.json.sort_keys = False
    app.url_map.merge_slashes = False  # `files//etc/passwd` must be refused, not redirected
    store = open_registry(config, create=True)
    if config["auth"]["enabled"]:
        _bootstrap_token(config["auth"]["admin_token"])
    app.extensions["modelyard_store"] = store
    app.extensions["modelyard_webhooks"] = webhook_settings(config)
    app.before_request(_open_connection)
    app.teardown_appcontext(_close_connection)
    register_api(app)
    install_console(app, app.extensions["modelyard_webhooks"].fernet_key)
    metrics = CollectorRegistry()
    PrometheusMetrics(app, registry=metrics, path="/metrics", group_by="url_rule",
                      default_labels={})
    app.wsgi_app = StageLookups(app, metrics)  # type: ignore[method-assign]
    return app
