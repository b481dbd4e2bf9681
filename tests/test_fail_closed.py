"""Service defaults fail closed: a caller that forgets who it acts for is refused, and criteria
read before start-up installed the config's defaults raise instead of gating with no rules."""
import ast
import inspect
from pathlib import Path

import pytest

from registry.db import database
from registry.services import criteria, models, stages, versions
from tests.api.helpers import create_model, ready_version

REGISTRY = Path(__file__).resolve().parent.parent / "registry"


@pytest.mark.parametrize("service", [stages.promote, stages.rollback, versions.set_stage,
                                     models.update_model])
def test_is_admin_must_be_given(service):
    parameter = inspect.signature(service).parameters["is_admin"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is inspect.Parameter.empty


def test_criteria_read_before_the_defaults_are_installed_raise(client, monkeypatch):
    create_model(client)
    ready_version(client)
    monkeypatch.setattr(criteria, "_defaults", {})  # as in a process that never opened the registry
    with database.connection_context(), pytest.raises(criteria.DefaultsNotInstalled):
        stages.promote("fraud", 1, actor="someone", is_admin=True)
    with database.connection_context():
        assert stages.stage_holder(models.find_model("fraud"), "production") is None


def _calls(name: str) -> set[str]:
    found = set()
    for path in REGISTRY.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called == name:
                    found.add(path.relative_to(REGISTRY).as_posix())
    return found


@pytest.mark.parametrize("step", ["open_database", "use_defaults"])
def test_every_entry_point_opens_the_registry_one_way(step):
    """Binding the database and installing the defaults happen only in open_registry, so an
    entry point cannot do one and forget the other."""
    assert _calls(step) == {"startup.py"}
