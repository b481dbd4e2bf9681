"""Fixtures: every service and API test runs on a fresh SQLite file and on PostgreSQL.

PostgreSQL comes from MODELYARD_TEST_PG_URL (default: the local test database; under
pytest-xdist each worker uses a database of its own next to it). Outside CI a missing server
skips those cases; in CI (CI=true) it fails them.
"""
from __future__ import annotations

import os
import urllib.parse

import psycopg2
import pytest
from moto.server import ThreadedMotoServer

from registry.app import create_app
from registry.db import database
from registry.models import TABLES

BASE_PG_URL = os.environ.get("MODELYARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
# pytest-xdist runs tests in several processes: each gets its own database, so one process's
# reset never empties another's tables
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_pg_schema_ready = False


def pg_url(database: str) -> str:
    """BASE_PG_URL with another database name."""
    parts = urllib.parse.urlsplit(BASE_PG_URL)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))


def _base_name() -> str:
    return urllib.parse.urlsplit(BASE_PG_URL).path.lstrip("/")


def _create_database(name: str, *, fresh: bool) -> str:
    connection = psycopg2.connect(BASE_PG_URL)
    connection.autocommit = True
    with connection.cursor() as cursor:
        if fresh:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return pg_url(name)


def _postgres_or_skip() -> str:
    """This test process's PostgreSQL database (the base one, or one per xdist worker)."""
    try:
        psycopg2.connect(BASE_PG_URL, connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and not reachable at {BASE_PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {BASE_PG_URL}")
    return _create_database(f"{_base_name()}_{WORKER}", fresh=False) if WORKER else BASE_PG_URL


def fresh_pg_database(name: str) -> str:
    """An empty database `name` (suffixed per xdist worker) for a test that starts servers on a
    database of its own; its URL."""
    _postgres_or_skip()
    return _create_database(f"{name}_{WORKER}" if WORKER else name, fresh=True)


def _reset_postgres() -> None:
    """First use: a fresh schema built by the migrations. Later: empty tables."""
    connection = psycopg2.connect(_postgres_or_skip())
    connection.autocommit = True
    with connection.cursor() as cursor:
        if not _pg_schema_ready:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        else:
            tables = ", ".join(table._meta.table_name for table in TABLES)
            cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            cursor.execute("INSERT INTO counter (name, value) VALUES ('event_seq', 0)")
    connection.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path) -> dict:
    """Config overrides for one database: a fresh SQLite file, or a clean PostgreSQL."""
    global _pg_schema_ready
    overrides = {"server": {"data_dir": str(tmp_path / "data")},
                 "auth": {"enabled": False}}  # tests/api/test_auth.py covers auth
    if request.param == "postgres":
        overrides["database"] = {"url": _postgres_or_skip(), "pool_size": 32}
        _reset_postgres()
    yield overrides
    if request.param == "postgres":
        _pg_schema_ready = True
    if database.obj is not None:
        database.obj.close_all() if hasattr(database.obj, "close_all") else database.obj.close()


@pytest.fixture
def app(backend):
    return create_app(backend, environ={})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    """A connection for service-level tests that call services directly."""
    with database.connection_context():
        yield database


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3-protocol server (moto) on loopback, as host:port."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


def pytest_collection_modifyitems(session, config, items):
    """Installing MLflow's own environment takes minutes: when this run will need it, start
    it now, beside the other tests, rather than when the import tests reach it."""
    if any(item.path.name == "test_import_mlflow.py" for item in items):
        from tests.e2e.mlflow_server import prepare_in_background

        prepare_in_background()
