import json
import re
import subprocess
import sys
import tomllib

import pytest

from registry.config import DEFAULTS_PATH, ConfigError, load_config, redacted


def test_defaults_load():
    config = load_config(environ={})
    assert config["server"]["port"] == 8080
    assert config["database"]["url"] == ""


def test_every_key_is_commented():
    """A key without a comment line right above it is undocumented."""
    lines = DEFAULTS_PATH.read_text().splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^[a-z_]+ = ", line):
            assert lines[number - 1].startswith("#"), f"undocumented key: {line}"


def test_layers_in_order(tmp_path):
    file = tmp_path / "modelyard.toml"
    file.write_text('[server]\nport = 9000\nthreads = 3\n')
    environ = {"MODELYARD_CONFIG": str(file), "MODELYARD_SERVER_PORT": "9001"}
    config = load_config({"server": {"threads": 5}}, environ)
    assert (config["server"]["port"], config["server"]["threads"]) == (9001, 5)


def test_database_url_env_alias():
    config = load_config(environ={"DATABASE_URL": "postgresql://u:pw@db/x"})
    assert config["database"]["url"] == "postgresql://u:pw@db/x"
    assert redacted(config)["database"]["url"] == "postgresql://u:********@db/x"


@pytest.mark.parametrize("overrides, environ, message", [
    ({"server": {"colour": "red"}}, {}, "server.colour"),
    ({"nope": {}}, {}, "'nope'"),
    ({"server": {"port": 70000}}, {}, "server.port"),
    ({}, {"MODELYARD_SERVER_PORT": "eighty"}, "server.port"),
    ({"database": {"url": "mysql://x"}}, {}, "database.url"),
    ({"api": {"max_json_depth": 1}}, {}, "api.max_json_depth"),
])
def test_bad_config_names_the_key(overrides, environ, message):
    with pytest.raises(ConfigError) as caught:
        load_config(overrides, environ)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_key_in_file(tmp_path):
    file = tmp_path / "bad.toml"
    file.write_text("[api]\nmax_json_byte = 5\n")
    with pytest.raises(ConfigError, match="api.max_json_byte"):
        load_config(environ={"MODELYARD_CONFIG": str(file)})


def test_cli_rejects_bad_config_in_one_line(tmp_path):
    env = {"PATH": "", "MODELYARD_SERVER_PORT": "-1", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "registry", "config", "show"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "server.port" in result.stderr


def test_cli_config_show_redacts(tmp_path):
    env = {"PATH": "", "DATABASE_URL": "postgresql://me:hunter2@db/x", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "registry", "config", "show"],
                            capture_output=True, text=True, env=env, check=True)
    shown = json.loads(result.stdout)
    assert "hunter2" not in result.stdout
    assert set(shown) == set(tomllib.loads(DEFAULTS_PATH.read_text()))
