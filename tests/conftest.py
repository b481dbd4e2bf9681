"""Fixtures: every service and API test runs on a fresh SQLite file and on PostgreSQL.

PostgreSQL comes from MODELYARD_TEST_PG_URL (default: the local test database). Outside CI a
missing server skips those cases; in CI (CI=true) it fails them.
"""
from __future__ import annotations

import os

import psycopg2
import pytest
from moto.server import ThreadedMotoServer

from registry.app import create_app
from registry.db import database
from registry.models import TABLES

PG_URL = os.environ.get("MODELYARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
_pg_schema_ready = False


def _postgres_or_skip() -> str:
    try:
        psycopg2.connect(PG_URL, connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and not reachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    return PG_URL


def _reset_postgres() -> None:
    """First use: a fresh schema built by the migrations. Later: empty tables."""
    connection = psycopg2.connect(PG_URL)
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
