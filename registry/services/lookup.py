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


def allocate_version_number(name: str) -> tuple[RegisteredModel, int]:
    """Take the model's next version number in one statement; the row stays locked until the
    transaction ends, so numbers are gapless, increasing and never reused. Raises ModelNotFound."""
    rows = list(RegisteredModel.update(last_version=RegisteredModel.last_version + 1)
                .where(RegisteredModel.name == name)
                .returning(RegisteredModel.id, RegisteredModel.name, RegisteredModel.description,
                           RegisteredModel.last_version).execute())
    if not rows:
        raise ModelNotFound(f"model '{name}' does not exist")
    return rows[0], rows[0].last_version
