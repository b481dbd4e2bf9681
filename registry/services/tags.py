"""Tags of models and versions, kept as rows so filters can use an index."""
from __future__ import annotations

from collections import defaultdict
from typing import Mapping

from peewee import ForeignKeyField, Model

from registry.db import Statement, among, insert_statement
from registry.models import ModelTag, VersionTag

TagTable = type[ModelTag] | type[VersionTag]


def _owner_field(table: TagTable) -> ForeignKeyField:
    return table.model if table is ModelTag else table.version


def load_tags(table: TagTable, owner_ids: list[int]) -> dict[int, dict[str, str]]:
    """Tags of many owners in one query: owner id -> {key: value}."""
    owner = _owner_field(table)
    found: dict[int, dict[str, str]] = defaultdict(dict)
    if owner_ids:
        for row in table.select(owner, table.key, table.value).where(among(owner, owner_ids)).tuples():
            found[row[0]][row[1]] = row[2]
    return found


def patch_tags(table: TagTable, owner: Model, patch: Mapping[str, str | None]) -> None:
    """Merge tags: a key with a value is set, a key with None is removed (inside a transaction)."""
    owner_field = _owner_field(table)
    for key, value in patch.items():
        table.delete().where((owner_field == owner.id) & (table.key == key)).execute()
        if value is not None:
            table.create(**{owner_field.name: owner.id, "key": key, "value": value})


def tags_statement(table: TagTable, owner: Model, tags: Mapping[str, str]) -> Statement | None:
    """The one statement that stores the tags of a new owner (None when there are none)."""
    if not tags:
        return None
    owner_field = _owner_field(table)
    return insert_statement(table, [{owner_field.name: owner.id, "key": key, "value": value}
                                    for key, value in tags.items()])
