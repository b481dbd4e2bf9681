"""Migration 0008 (declared stages) applied to a database made by the previous release.

tests/fixtures/schema_0007.json holds every row of a registry built by main at 90e33bf (schema
0007) through its API: two models with promotions, a staging holder promoted to production, a
rollback, a demotion, criteria and evaluations. Here the schema of 0001-0007 is built by those
migrations, the rows are loaded as they were stored, and the upgrade must keep every holder,
history row and evaluation."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from playhouse.migrations import Runner

from registry.db import database, is_postgres
from registry.migrate import MIGRATION_TABLE, MIGRATIONS_DIR, upgrade
from registry.models import Evaluation, ModelVersion, StageHolder, StageMove

FIXTURE = json.loads((Path(__file__).parent.parent / "fixtures" / "schema_0007.json").read_text())
TABLES = FIXTURE["tables"]
PARENTS = ["registered_model", "model_version"]  # loaded before the rows that refer to them


def _old_schema(tmp_path: Path, last: int = 7) -> None:
    """An empty database, then migrations 0001 to 000`last` only."""
    if is_postgres():
        database.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    else:
        database.execute_sql("PRAGMA foreign_keys = OFF")
        for (name,) in database.execute_sql(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall():
            database.execute_sql(f'DROP TABLE "{name}"')
        database.execute_sql("PRAGMA foreign_keys = ON")
    old = tmp_path / f"migrations_000{last}"
    old.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob(f"000[1-{last}]_*.py")):
        shutil.copy(path, old / path.name)
    with database.atomic():
        assert len(Runner(database.obj, str(old), table_name=MIGRATION_TABLE).up()) == last


def _boolean_columns(table: str) -> set[str]:
    if not is_postgres():
        return set()
    rows = database.execute_sql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
        "AND data_type = 'boolean'", (table,)).fetchall()
    return {name for (name,) in rows}


def _load_rows() -> None:
    """Every row of the fixture, as stored by the old release (booleans as 0/1 on SQLite)."""
    with database.atomic():
        database.execute_sql("DELETE FROM counter")
        database.execute_sql(f"DELETE FROM {MIGRATION_TABLE}")
        parents_first = sorted(TABLES, key=lambda t: PARENTS.index(t) if t in PARENTS else 9)
        for table in parents_first:
            content = TABLES[table]
            columns, booleans = content["columns"], _boolean_columns(table)
            marks = ", ".join([database.param] * len(columns))
            names = ", ".join(f'"{column}"' for column in columns)
            for row in content["rows"]:
                values = [bool(v) if c in booleans and v is not None else v
                          for c, v in zip(columns, row)]
                database.execute_sql(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', values)
        if is_postgres():  # ids were given explicitly: move each sequence past them
            for table in TABLES:
                if "id" in TABLES[table]["columns"]:
                    database.execute_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT MAX(id) FROM \"{table}\"))")


def _rows(table: str) -> list[dict]:
    content = TABLES[table]
    return [dict(zip(content["columns"], row)) for row in content["rows"]]


@pytest.fixture
def upgraded_app(app, tmp_path):
    """The app on a database the previous release made, upgraded by this one."""
    with database.connection_context():
        _old_schema(tmp_path)
        _load_rows()
        assert upgrade() == [path.stem for path in sorted(MIGRATIONS_DIR.glob("0*.py"))
                             if path.stem >= "0008"]  # 0008_declared_stages and any later
    return app


@pytest.fixture
def upgraded(upgraded_app):
    with database.connection_context():
        yield


def test_every_holder_becomes_a_holder_row(upgraded):
    old_holders = {(v["model_id"], v["stage"]): v for v in _rows("model_version")
                   if v["stage"] in ("staging", "production")}
    assert len(old_holders) == 4
    holders = {(h.model_id, h.stage): h for h in StageHolder.select()}
    assert set(holders) == set(old_holders)
    for key, holder in holders.items():
        assert holder.version_id == old_holders[key]["id"]
        assert holder.since == ModelVersion.stage_since.python_value(old_holders[key]["stage_since"])
    labels = [(v.id, v.stage, v.rolled_back) for v in ModelVersion.select().order_by(ModelVersion.id)]
    assert labels == [(v["id"], v["stage"], bool(v["rolled_back"])) for v in _rows("model_version")]


def test_history_and_evaluations_are_kept_row_for_row(upgraded):
    moves = [(m.id, m.model_id, m.stage, m.from_version, m.to_version, m.action, m.reason)
             for m in StageMove.select().order_by(StageMove.id)]
    assert moves == [(m["id"], m["model_id"], m["stage"], m["from_version"], m["to_version"],
                      m["action"], m["reason"]) for m in _rows("stage_move")]
    evaluations = [(e.id, e.version_id, e.stage, e.passed, e.results)
                   for e in Evaluation.select().order_by(Evaluation.id)]
    assert evaluations == [(e["id"], e["version_id"], e["stage"], bool(e["passed"]),
                            json.loads(e["results"])) for e in _rows("evaluation")]


def test_the_upgraded_registry_answers_as_before_and_takes_declared_stages(upgraded_app):
    client = upgraded_app.test_client()
    fraud = client.get("/api/v1/models/fraud").json
    assert (fraud["production"]["version"], fraud["staging"]["version"]) == (2, 5)
    assert fraud["production_requires_admin"] and fraud["on_degraded"] == "rollback"
    holder = client.get("/api/v1/models/fraud/production").json
    assert holder["version"] == 2 and holder["revision"] == 8
    assert client.get("/api/v1/models/fraud/versions/2").json["stages"] == ["production"]
    # the history still chains, and rollback still finds the previous good holder (1; 4 was
    # rolled back from)
    back = client.post("/api/v1/models/fraud/rollback", json={"reason": "after upgrade"})
    assert back.status_code == 200 and back.json["version"] == 1, back.json
    events = client.get("/api/v1/events?stage=production").json["items"]
    assert [e["type"] for e in events].count("model.promoted") == 4
    assert client.post("/api/v1/models/churn/stages", json={"name": "canary"}).status_code == 201
    assert client.post("/api/v1/models/churn/promote",
                       json={"version": 2, "stage": "canary"}).status_code == 200
    assert client.get("/api/v1/models/churn/versions/2").json["stages"] == ["staging", "canary"]


def test_the_fixture_is_what_the_previous_release_wrote():
    applied = [row[1] for row in TABLES["schema_migration"]["rows"]]
    assert applied == [path.stem for path in sorted(MIGRATIONS_DIR.glob("000[1-7]_*.py"))]
    assert "stage_holder" not in TABLES and "stage" not in TABLES["event"]["columns"]


def test_upgrading_from_0005_keeps_every_version(app, tmp_path):
    """0006 and 0007 add NOT NULL columns to registered_model, which SQLite's migrator does by
    rebuilding the table: with foreign keys on, dropping the old table deleted every version,
    history row and evaluation of every model (found here; upgrade() now turns them off)."""
    with database.connection_context():
        _old_schema(tmp_path, last=5)
        database.execute_sql("INSERT INTO registered_model (name, description, last_version, "
                             "created_at, updated_at) VALUES ('m', '', 1, 0, 0)")
        database.execute_sql("INSERT INTO model_version (model_id, version, description, status, "
                             "stage, stage_since, rolled_back, created_at, updated_at) "
                             f"VALUES (1, 1, '', 'ready', 'production', 5, {database.param}, 0, 0)",
                             (False,))
        database.execute_sql("INSERT INTO stage_move (model_id, stage, to_version, action, actor, "
                             "forced, at) VALUES (1, 'production', 1, 'promote', 'ci', "
                             f"{database.param}, 5)", (False,))
        upgrade()
        assert [(v.version, v.stage) for v in ModelVersion.select()] == [(1, "production")]
        assert StageMove.select().count() == 1
        assert [(h.stage, h.version_id) for h in StageHolder.select()] == [("production", 1)]
