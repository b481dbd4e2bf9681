"""Schema upgrades with peewee's migration runner, under a lock so replicas may start together."""
from __future__ import annotations

import logging
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
    so a crash leaves the previous schema. SQLite: the IMMEDIATE transaction is the lock.
    Returns the names applied by this call (empty when already current).
    """
    with database.atomic():
        if is_postgres():
            database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_ID,))
        applied = Runner(database.obj, str(MIGRATIONS_DIR), table_name=MIGRATION_TABLE).up()
    for name in applied:
        log.debug("applied migration %s", name)
    return applied
