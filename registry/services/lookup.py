"""Finding a model or a version by its public name, optionally locking the row, and taking a
version's number."""
from __future__ import annotations

from registry.db import database, fetch_prepared, is_postgres, select_prepared
from registry.domain.errors import ModelNotFound, VersionNotFound
from registry.models import ModelVersion, RegisteredModel


def find_model(name: str, *, for_update: bool = False) -> RegisteredModel:
    """The model row, locked for the transaction when asked; raises ModelNotFound."""
    lock = _lock_clause(for_update)
    rows = select_prepared(f"model_by_name{lock and '_locked'}", RegisteredModel,
                           lambda param: f"WHERE name = {param(1)}{lock}", (name,))
    if not rows:
        raise ModelNotFound(f"model '{name}' does not exist")
    return rows[0]


def find_version(model: RegisteredModel, number: int, *, for_update: bool = False) -> ModelVersion:
    """The version row (locked when asked); raises VersionNotFound."""
    lock = _lock_clause(for_update)
    rows = select_prepared(f"version_by_number{lock and '_locked'}", ModelVersion, lambda param: (
        f"WHERE model_id = {param(1)} AND version = {param(2)}{lock}"), (model.id, number))
    if not rows:
        raise VersionNotFound(f"model '{model.name}' has no version {number}")
    return rows[0]


def _lock_clause(for_update: bool) -> str:
    # SQLite's IMMEDIATE transaction already serialises writers, and it has no FOR UPDATE
    return " FOR UPDATE" if for_update and is_postgres() else ""


def provisional_version_number() -> int:
    """The number a version row carries between its insert and take_version_number: negative,
    so no committed version ever has it, and different for every open transaction (its
    PostgreSQL backend; SQLite has one writer at a time), so concurrent registrations of one
    model never wait on each other's entry in the (model, version) unique index."""
    return -database.connection().get_backend_pid() if is_postgres() else -1


def take_version_number(model_id: int, version_id: int) -> int:
    """Take the model's next number and give it to the version row: the model's row stays
    locked until the transaction ends, so numbers are gapless, increasing and never reused.
    Called last in a registration, so the lock is held for a few statements, not all of it."""
    if is_postgres():
        return fetch_prepared("take_version_number", lambda param: (
            "WITH taken AS (UPDATE registered_model SET last_version = last_version + 1 "
            f"WHERE id = {param(1)} RETURNING last_version) "
            "UPDATE model_version SET version = taken.last_version FROM taken "
            f"WHERE model_version.id = {param(2)} RETURNING model_version.version"),
            (model_id, version_id))[0][0]
    number = fetch_prepared("take_version_number", lambda param: (
        "UPDATE registered_model SET last_version = last_version + 1 "
        f"WHERE id = {param(1)} RETURNING last_version"), (model_id,))[0][0]
    fetch_prepared("set_version_number", lambda param: (
        f"UPDATE model_version SET version = {param(1)} WHERE id = {param(2)}"),
        (number, version_id))
    return number
