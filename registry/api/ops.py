"""Liveness, readiness, and the vendored Swagger UI assets."""
from __future__ import annotations

import os
from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, current_app, send_from_directory
from peewee import PeeweeException

from registry.db import database

blp = Blueprint("ops", __name__)
SWAGGER_ASSETS = Path(swagger_ui_bundle.swagger_ui_path)


@blp.get("/healthz")
def healthz():
    """The process is up."""
    return {"status": "ok"}


@blp.get("/readyz")
def readyz():
    """The database answers, the data folder is writable and the artifact store reachable."""
    checks = {}
    try:
        database.execute_sql("SELECT 1").fetchone()
        checks["database"] = "ok"
    except PeeweeException as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    data_dir = Path(current_app.config["MODELYARD"]["server"]["data_dir"])
    checks["data_dir"] = "ok" if data_dir.is_dir() and os.access(data_dir, os.W_OK) else "unavailable"
    try:
        current_app.extensions["modelyard_store"].check()
        checks["artifact_store"] = "ok"
    except Exception as exc:  # any failure of the store's client means "not ready"
        checks["artifact_store"] = f"unavailable: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


@blp.get("/docs/assets/<path:filename>")
def swagger_asset(filename):
    """Swagger UI served from the installed bundle: the docs page works air-gapped."""
    return send_from_directory(SWAGGER_ASSETS, filename, max_age=86400)
