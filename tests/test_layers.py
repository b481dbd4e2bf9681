"""Imports point down only: api -> services -> domain; models/db/storage below services."""
import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package prefix -> prefixes it must never import
FORBIDDEN = {
    "registry.domain": ["registry.api", "registry.services", "registry.models", "registry.db",
                        "registry.storage", "registry.app", "flask", "peewee", "marshmallow"],
    "registry.services": ["registry.api", "registry.app", "registry.cli", "flask", "marshmallow"],
    "registry.models": ["registry.api", "registry.services"],
    "registry.db": ["registry.api", "registry.services", "registry.models"],
    "registry.storage": ["registry.api", "registry.services"],
    "webhooks": ["registry"],
    # an importer writes through the client, so it works against a remote server
    "registry.importers": ["registry.api", "registry.services", "registry.models", "registry.db",
                           "registry.storage", "registry.app", "flask", "peewee", "marshmallow"],
}


def _modules():
    for package in ("registry", "webhooks"):
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).exists() else []:
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            yield name, path


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("module, path", list(_modules()), ids=lambda value: str(value))
def test_no_upward_imports(module, path):
    rules = [banned for prefix, banned in FORBIDDEN.items()
             if module == prefix or module.startswith(prefix + ".")]
    if module.startswith("registry.migrations"):
        return
    for imported in _imports(path):
        for banned in (b for rule in rules for b in rule):
            assert not (imported == banned or imported.startswith(banned + ".")), (
                f"{module} imports {imported}, which is above it")


def test_domain_uses_only_the_standard_library():
    for module, path in _modules():
        if module.startswith("registry.domain"):
            for imported in _imports(path):
                top = imported.split(".")[0]
                # webhooks.errors holds the one error base and is itself standard library only
                assert top in sys.stdlib_module_names or imported.startswith("registry.domain") or (
                    imported in ("__future__", "webhooks.errors")), f"{module} imports {imported}"


def test_the_client_needs_none_of_the_servers_dependencies():
    """A training script installs the package for the client; importing it must not pull in
    the server stack."""
    for module, path in _modules():
        if module == "registry.client" or module.startswith("registry.client."):
            for imported in _imports(path):
                top = imported.split(".")[0]
                assert top in sys.stdlib_module_names or top in ("requests", "urllib3", "rich",
                                                                 "__future__") or (
                    imported.startswith("registry.client")), f"{module} imports {imported}"


# Where a transaction may begin: the use cases (registry/services), the helper that begins one,
# the schema upgrade, and the webhook dispatcher's own claim and record steps.
OPENS_TRANSACTIONS = ("registry.services.", "registry.db", "registry.migrate",
                      "webhooks.dispatcher")


def _calls(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def test_only_services_open_transactions():
    for module, path in _modules():
        if module.startswith("registry.migrations") or module.startswith(OPENS_TRANSACTIONS):
            continue
        opened = _calls(path) & {"atomic", "write_transaction", "transaction"}
        assert not opened, f"{module} opens a transaction ({', '.join(opened)}): call a service"


def test_routes_reach_webhooks_only_through_services():
    """Routes call registry services; only the problem table names the webhook errors."""
    for module, path in _modules():
        if module.startswith("registry.api"):
            imported = [name for name in _imports(path) if name.split(".")[0] == "webhooks"]
            assert imported in ([], ["webhooks"]) and (
                not imported or module == "registry.api.problems"), f"{module} imports {imported}"


def test_the_domain_imports_no_framework():
    for module, path in _modules():
        if module.startswith("registry.domain"):
            for imported in _imports(path):
                assert imported.split(".")[0] not in ("peewee", "flask", "marshmallow", "playhouse",
                                                      "werkzeug"), f"{module} imports {imported}"


def test_no_module_is_over_400_lines():
    for module, path in _modules():
        if module.startswith("registry.migrations"):
            continue
        lines = len(path.read_text().splitlines())
        assert lines <= 400, f"{module} has {lines} lines: split it by noun"


def test_the_shared_error_base_needs_only_the_standard_library():
    """The domain may import webhooks.errors because it imports nothing else."""
    path = ROOT / "webhooks" / "errors.py"
    for imported in _imports(path):
        assert imported.split(".")[0] in sys.stdlib_module_names or imported == "__future__"
