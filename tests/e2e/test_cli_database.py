"""The command line's database commands open the database `serve` would open, and never create
one: run from another folder they say where they looked and exit 2."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


def modelyard(*args: str, cwd, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "MODELYARD_CONFIG": "", "DATABASE_URL": "", **(env or {})}
    environ.pop("MODELYARD_SERVER_DATA_DIR", None)
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "registry", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [
    ["tokens", "create", "--name", "ci", "--role", "deployer"], ["tokens", "list"],
    ["reports", "run"], ["audit", "verify"], ["artifacts", "verify"], ["artifacts", "gc"],
    ["db", "analyze"]])
def test_a_database_command_in_a_folder_with_no_database_exits_2_and_creates_nothing(
        tmp_path, command):
    result = modelyard(*command, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"no Modelyard database at {tmp_path / 'data' / 'modelyard.db'}" in result.stderr
    assert "--data-dir" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "modelyard.db").exists()
    assert result.stdout == ""  # no token printed that the server would refuse


def test_database_commands_find_the_servers_database_by_flag_or_environment(tmp_path):
    server_dir, elsewhere = tmp_path / "server", tmp_path / "elsewhere"
    server_dir.mkdir()
    elsewhere.mkdir()
    assert modelyard("db", "upgrade", cwd=server_dir).returncode == 0  # creates ./data
    data = str(server_dir / "data")
    made = modelyard("tokens", "create", "--name", "ci", "--role", "viewer", "--data-dir", data,
                     cwd=elsewhere)
    assert made.returncode == 0 and made.stdout.startswith("myd_")
    listed = modelyard("tokens", "list", cwd=elsewhere, env={"MODELYARD_SERVER_DATA_DIR": data})
    assert "ci" in listed.stdout
    assert not (elsewhere / "data").exists()


def test_a_postgres_database_without_the_schema_is_refused_too(tmp_path):
    from tests.conftest import fresh_pg_database

    url = fresh_pg_database("modelyard_test_empty")
    # trust auth ignores the password; the message must never show it
    with_password = url.replace("://postgres@", "://postgres:s3cret-pw@")
    result = modelyard("tokens", "list", cwd=tmp_path, env={"DATABASE_URL": with_password})
    assert result.returncode == 2
    assert "has no Modelyard schema; `modelyard db upgrade` creates it" in result.stderr
    assert "s3cret-pw" not in result.stderr and "Traceback" not in result.stderr
