"""Schema upgrades with peewee's migration runner, under a lock so replicas may start together."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

from playhouse.migrations import Runner

from registry.db import database, is_postgres

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
ADVISORY_LOCK_ID = 0x6D6F64656C  # "model": any constant shared by every process
MIGRATION_TABLE = "schema_migration"  # where peewee's runner records what it applied


def upgrade() -> list[str]:
    """Apply pending migrations once, even when several processes call this at the same time.

    PostgreSQL: a transaction-scoped advisory lock serialises the runners, and DDL is transactional,
    so a crash leaves the previous schema. SQLite: the IMMEDIATE transaction is the lock, and
    foreign keys are off while it runs (see _foreign_keys_off).
    Returns the names applied by this call (empty when already current).
    """
    with _foreign_keys_off():
        with database.atomic():
            if is_postgres():
                database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_ID,))
            applied = Runner(database.obj, str(MIGRATIONS_DIR), table_name=MIGRATION_TABLE).up()
            _check_foreign_keys()
    for name in applied:
        log.debug("applied migration %s", name)
    return applied


@contextmanager
def _foreign_keys_off():
    """SQLite changes a column by rebuilding its table (copy, drop, rename); with foreign keys
    on, dropping the old `registered_model` would cascade and delete every version. SQLite's
    own recipe for such changes turns them off around the transaction (the pragma cannot change
    inside one) and checks them before committing."""
    if is_postgres():
        yield
        return
    database.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        database.execute_sql("PRAGMA foreign_keys = ON")


def _check_foreign_keys() -> None:
    if not is_postgres():
        broken = database.execute_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the migration left rows that refer to nothing: {broken[:5]}")
