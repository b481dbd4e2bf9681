"""The cached INSERT on the write path stores exactly what peewee's own insert would."""
import datetime as dt

from registry.db import insert_rows
from registry.models import ModelVersion, Param, RegisteredModel


def test_rows_are_stored_as_peewee_stores_them_with_defaults_and_new_ids(db):
    model = RegisteredModel.create(name="m", last_version=3)
    now = dt.datetime(2026, 11, 28, 12, 30, tzinfo=dt.timezone.utc)
    ids = insert_rows(ModelVersion, [{"model": model, "version": n, "created_at": now,
                                      "updated_at": now} for n in (1, 2)], returning_id=True)
    peewee_id = ModelVersion.insert(model=model, version=3, created_at=now,
                                    updated_at=now).execute()
    stored = {row.version: row for row in ModelVersion.select()}
    assert [stored[1].id, stored[2].id] == ids and peewee_id not in ids
    for field in ("status", "stage", "rolled_back", "description", "created_at"):
        assert getattr(stored[1], field) == getattr(stored[3], field), field
    assert stored[1].created_at == now and stored[1].model_id == model.id

    assert insert_rows(Param, [{"version": ids[0], "key": "lr", "value_json": "0.1",
                                "value_num": 0.1}]) == []
    param = Param.get()
    assert (param.version_id, param.value_num, param.value_text) == (ids[0], 0.1, None)


def test_a_second_insert_of_the_same_shape_stores_its_own_values(db):
    model = RegisteredModel.create(name="m", last_version=4)
    for first in (1, 3):
        insert_rows(ModelVersion, [{"model": model, "version": n, "description": f"v{n}"}
                                   for n in (first, first + 1)], returning_id=True)
    assert [(row.version, row.description) for row in ModelVersion.select().order_by(
        ModelVersion.version)] == [(1, "v1"), (2, "v2"), (3, "v3"), (4, "v4")]


def test_the_insert_text_cache_is_bounded():
    """One INSERT text per table, columns and row count is remembered, the newest ones only."""
    from registry.db import INSERT_SHAPES, _insert_sql
    from registry.models import Param

    for row_count in range(1, INSERT_SHAPES + 50):
        _insert_sql(Param, ("key", "value_json", "version"), row_count, False, "?")
    assert _insert_sql.cache_info().currsize <= INSERT_SHAPES
