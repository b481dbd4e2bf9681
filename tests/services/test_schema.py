"""The schema itself: migrations under concurrency, and invariants enforced by the database."""
import subprocess
import sys

import pytest
from peewee import IntegrityError

from registry.db import database
from registry.models import ModelVersion, RegisteredModel


def _upgrade_env(backend) -> dict:
    return {"PATH": "", "HOME": backend["server"]["data_dir"], "MODELYARD_CONFIG": "",
            "MODELYARD_SERVER_DATA_DIR": backend["server"]["data_dir"],
            "DATABASE_URL": backend.get("database", {}).get("url", "")}


def test_processes_upgrading_at_once_apply_each_migration_once(backend):
    """Four `modelyard db upgrade` processes race on an empty database."""
    if "database" in backend:  # start PostgreSQL from an empty schema too
        database.obj and database.close()
        import psycopg2
        connection = psycopg2.connect(backend["database"]["url"])
        connection.autocommit = True
        connection.cursor().execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        connection.close()
    command = [sys.executable, "-m", "registry", "db", "upgrade"]
    processes = [subprocess.Popen(command, env=_upgrade_env(backend), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for _ in range(4)]
    outputs = [process.communicate(timeout=60)[0] for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, outputs
    assert sum("applied: 0001_initial" in output for output in outputs) == 1
    assert sum("schema is up to date" in output for output in outputs) == 3


def test_database_allows_one_production_version_per_model(db):
    model = RegisteredModel.create(name="m")
    ModelVersion.create(model=model, version=1, stage="production")
    ModelVersion.create(model=model, version=2, stage="staging")
    ModelVersion.create(model=model, version=3, stage="archived")
    ModelVersion.create(model=model, version=4, stage="archived")  # many archived are fine
    with pytest.raises(IntegrityError), database.atomic():
        ModelVersion.create(model=model, version=5, stage="production")
    with pytest.raises(IntegrityError), database.atomic():
        ModelVersion.create(model=model, version=6, stage="staging")
    with pytest.raises(IntegrityError), database.atomic():
        ModelVersion.create(model=model, version=1, stage="none")  # (model, version) is unique
