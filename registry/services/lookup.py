"""Finding a model or a version by its public name, optionally locking the row."""
from __future__ import annotations

from registry.db import locked
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
