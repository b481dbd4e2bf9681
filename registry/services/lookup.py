"""Finding a model or a version by its public name, optionally locking the row."""
from __future__ import annotations

from registry.db import fetch_prepared, locked
from registry.domain.errors import ModelNotFound, VersionNotFound
from registry.models import ModelVersion, RegisteredModel


def find_model(name: str, *, for_update: bool = False) -> RegisteredModel:
    """The model row, locked for the transaction when asked; raises ModelNotFound."""
    query = RegisteredModel.select().where(RegisteredModel.name == name)
    model = (locked(query) if for_update else query).get_or_none()
    if model is None:
        raise ModelNotFound(f"model '{name}' does not exist")
    return model


def find_version(model: RegisteredModel, number: int, *, for_update: bool = False) -> ModelVersion:
    """The version row (locked when asked); raises VersionNotFound."""
    query = ModelVersion.select().where((ModelVersion.model == model)
                                        & (ModelVersion.version == number))
    row = (locked(query) if for_update else query).get_or_none()
    if row is None:
        raise VersionNotFound(f"model '{model.name}' has no version {number}")
    return row


def allocate_version_number(name: str) -> tuple[RegisteredModel, int]:
    """Take the model's next version number in one statement; the row stays locked until the
    transaction ends, so numbers are gapless, increasing and never reused. Raises ModelNotFound."""
    rows = fetch_prepared("take_version_number", lambda param: (
        "UPDATE registered_model SET last_version = last_version + 1 "
        f"WHERE name = {param(1)} RETURNING id, name, description, last_version"), (name,))
    if not rows:
        raise ModelNotFound(f"model '{name}' does not exist")
    model_id, model_name, description, number = rows[0]
    # only the columns read back, as a query's row would be: no defaults a save() could write
    return RegisteredModel(__no_default__=True, id=model_id, name=model_name,
                           description=description, last_version=number), number
