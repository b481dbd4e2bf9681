"""What a user can meet is documented: every event type (docs/webhooks.md), every config key (a
comment above it in config/defaults.toml), every command of the CLI (README.md)."""
import re
import tomllib
from pathlib import Path

import click
import pytest

from registry.cli import main
from registry.domain.events import ALL

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("event_type", ALL, ids=lambda e: e.name)
def test_every_event_type_is_documented(event_type):
    assert f"`{event_type.name}`" in (ROOT / "docs" / "webhooks.md").read_text()


def test_every_config_key_has_a_comment_above_it():
    lines = (ROOT / "config" / "defaults.toml").read_text().splitlines()
    keys = tomllib.loads("\n".join(lines))
    for number, line in enumerate(lines):
        match = re.match(r"^(\w+) = ", line)
        if match:
            assert lines[number - 1].startswith("#"), f"config key {match.group(1)} has no comment"
    assert sum(len(section) for section in keys.values()) > 40


def _leaf_commands(group: click.Group, prefix: str = "") -> list[str]:
    leaves = []
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            leaves += _leaf_commands(command, path + " ")
        else:
            leaves.append(path)
    return leaves


@pytest.mark.parametrize("path", _leaf_commands(main))
def test_every_cli_command_is_in_the_readme(path):
    readme = (ROOT / "README.md").read_text()
    *group, leaf = path.split()
    if not group:
        assert re.search(rf"`(modelyard )?{leaf}\b", readme), f"modelyard {path} is undocumented"
        return
    # `tokens list`, or an alternation such as `models list|show`
    pattern = rf"{group[0]} (?:[\w-]+\|)*{re.escape(leaf)}\b"
    assert re.search(pattern, readme), f"modelyard {path} is undocumented"
