"""The one database object, how it is opened, and the transaction/locking helpers.

Models bind to `database`, a proxy initialised by `open_database`; `webhooks/` shares it so an
outbox row joins the caller's transaction.
"""
from __future__ import annotations

import fcntl
import json
import os
import threading
import time
import urllib.parse
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from peewee import (SQL, Database, Expression, Field, Model, OperationalError, PostgresqlDatabase,
                    SqliteDatabase)
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from webhooks.db import (  # noqa: F401  (one proxy and its prepared statements, shared with webhooks/)
    Placeholder, database, fetch_prepared, is_postgres, select_prepared)



def database_url(config: dict) -> str:
    """The configured URL, or the embedded SQLite file under the data folder."""
    url = config["database"]["url"]
    if url:
        return url
    path = Path(config["server"]["data_dir"]).resolve() / "modelyard.db"
    return f"sqlite:///{path}"


def sqlite_path(config: dict) -> Path | None:
    """The SQLite file the configuration names, or None for PostgreSQL."""
    parts = urllib.parse.urlsplit(database_url(config))
    if parts.scheme != "sqlite":
        return None
    return Path("/" + urllib.parse.unquote(parts.path).lstrip("/"))  # sqlite:////abs/path


def _sqlite(path: str, config: dict) -> SqliteDatabase:
    """Pooled, because opening a connection and setting its pragmas costs more than the
    production look-up it would serve."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    busy_ms = config["database"]["busy_timeout_ms"]
    return PooledSqliteDatabase(
        path,
        max_connections=config["database"]["pool_size"],
        stale_timeout=config["database"]["pool_stale_timeout_s"],
        timeout=30,  # wait for a free connection rather than fail
        # busy_timeout first: switching to WAL must wait for a racing writer too (the pool
        # takes the `timeout` argument, so sqlite3's own connect timeout stays at 5 s)
        pragmas={"busy_timeout": busy_ms, "journal_mode": "wal", "foreign_keys": 1,
                 "synchronous": "normal"},
        lock_type="IMMEDIATE",  # writers take the lock at BEGIN, so no deadlock on upgrade
        check_same_thread=False,
        returning_clause=True,  # one round trip to allocate a number (SQLite >= 3.35)
    )


class PostgresqlPool(PooledPostgresqlDatabase):
    """peewee's pool asks PostgreSQL `SELECT 1` on every check-out, a round trip as long as a
    look-up's own query. Here only a connection that sat in the pool for PING_IDLE_S or more is
    asked: one returned a moment ago is as alive as the answer would say, and a connection the
    server dropped while in use is closed by the error and discarded at its next check-out."""

    PING_IDLE_S = 1.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._returned_at: dict[int, float] = {}  # connection key -> when it was checked in

    def _is_closed(self, conn) -> bool:
        returned_at = self._returned_at.pop(self.conn_key(conn), None)
        if (not conn.closed and returned_at is not None
                and time.monotonic() - returned_at < self.PING_IDLE_S):
            return False
        return super()._is_closed(conn)

    def _close(self, conn, close_conn: bool = False) -> None:
        super()._close(conn, close_conn)
        if not close_conn and not conn.closed:
            self._returned_at[self.conn_key(conn)] = time.monotonic()

    def _close_raw(self, conn) -> None:  # a stale or idle connection closed: forget it
        self._returned_at.pop(self.conn_key(conn), None)
        super()._close_raw(conn)


def _postgres(parts: urllib.parse.SplitResult, config: dict) -> PostgresqlDatabase:
    return PostgresqlPool(
        parts.path.lstrip("/"),
        user=urllib.parse.unquote(parts.username or "") or None,
        password=urllib.parse.unquote(parts.password or "") or None,
        host=parts.hostname or None,
        port=parts.port or None,
        max_connections=config["database"]["pool_size"],
        stale_timeout=config["database"]["pool_stale_timeout_s"],
        timeout=30,
        autorollback=False,
    )


def open_database(config: dict) -> Database:
    """Create the database for the configuration and bind the shared proxy to it."""
    url = database_url(config)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "sqlite":
        db = _sqlite(urllib.parse.unquote(parts.path), config)
    else:
        db = _postgres(parts, config)
    database.initialize(db)
    return db


Statement = tuple[str, list]


def insert_statement(table: type[Model], rows: list[dict], *,
                     returning_id: bool = False) -> Statement:
    """The INSERT of `rows` (dicts keyed by field name, all with the same keys; fields with a
    default may be left out) as one statement, like `table.insert_many(rows)`.

    Its text is remembered per table, columns and row count (the most recent INSERT_SHAPES of
    them): peewee would assemble it node by node on every call, under the use case's locks
    (docs/benchmarks.md has the measurements)."""
    fields, defaults = table._meta.fields, table._meta.defaults.items()
    rows = [{**{field.name: default() if callable(default) else default
                for field, default in defaults if field.name not in row}, **row} for row in rows]
    names = tuple(sorted(rows[0]))
    sql = _insert_sql(table, names, len(rows), returning_id, database.param)
    return sql, [fields[name].db_value(row[name]) for row in rows for name in names]


INSERT_SHAPES = 256


@lru_cache(maxsize=INSERT_SHAPES)
def _insert_sql(table: type[Model], names: tuple[str, ...], row_count: int, returning_id: bool,
                param: str) -> str:
    fields = table._meta.fields
    columns = ", ".join(f'"{fields[name].column_name}"' for name in names)
    values = ", ".join(["(" + ", ".join([param] * len(names)) + ")"] * row_count)
    returning = f' RETURNING "{table._meta.primary_key.column_name}"' if returning_id else ""
    return f'INSERT INTO "{table._meta.table_name}" ({columns}) VALUES {values}{returning}'


def insert_rows(table: type[Model], rows: list[dict], *, returning_id: bool = False) -> list:
    """Run insert_statement(table, rows); returns the new ids when `returning_id`."""
    cursor = database.execute_sql(*insert_statement(table, rows, returning_id=returning_id))
    return [found[0] for found in cursor.fetchall()] if returning_id else []


def execute_together(statements: list[Statement | None]) -> None:
    """Run statements whose rows nobody reads, in order, skipping None. PostgreSQL gets them in
    one round trip (psycopg2 sends a `;`-separated string): each round trip inside a use case's
    transaction lengthens the row locks it holds. SQLite runs in-process, one call each."""
    statements = [statement for statement in statements if statement]
    if is_postgres() and len(statements) > 1:
        database.execute_sql("; ".join(sql for sql, _ in statements),
                             [value for _, params in statements for value in params])
        return
    for sql, params in statements:
        database.execute_sql(sql, params)


def among(column: Field, ids: list[int]) -> Expression:
    """`column IN ids` with the ids as one parameter (ids_param), so a page's batch loads do not
    build one SQL node per id."""
    if is_postgres():
        return column == SQL("ANY(%s)", [ids_param(ids)])
    return column.in_(SQL("(SELECT value FROM json_each(?))", [ids_param(ids)]))


def among_sql(param: str) -> str:
    """The text after a column that keeps it to the ids bound at `param` (see ids_param)."""
    return f"= ANY({param})" if is_postgres() else f"IN (SELECT value FROM json_each({param}))"


def ids_param(ids: list[int]):
    """A list of ids as one parameter: an array on PostgreSQL, a JSON list on SQLite."""
    return list(ids) if is_postgres() else json.dumps(list(ids))


def analyze() -> None:
    """Refresh the query planner's statistics. SQLite never gathers them on its own, and without
    them it picks poor plans for searches over many versions. Connections read statistics when
    they open, so pooled ones follow within database.pool_stale_timeout_s. PostgreSQL's
    autovacuum does the same; running it there is harmless."""
    database.execute_sql("ANALYZE")


# SQLite has one writer at a time, and its busy handler lets waiting writers poll with growing
# sleeps (up to 100 ms each): under a burst one of them can lose for longer than busy_timeout
# and answer 503, and every registration's tail grows with the sleeps. Threads of one process
# queue on this lock, and processes on an advisory lock on a file beside the database, which a
# waiter polls every millisecond: the database's own lock is then always free at BEGIN.
_SQLITE_WRITER = threading.RLock()  # re-entered by work a commit hook starts on this thread
_writer_depth = 0  # how deep the owning thread is in write_transaction; changed under the RLock
WRITER_QUEUE_S = 30  # then 503, as a busy database answers
WRITER_POLL_S = 0.001


@contextmanager
def write_transaction() -> Iterator[None]:
    """One use case's transaction; on SQLite it begins IMMEDIATE (set on the database), after
    the other writers of this process and then of every process on this database file."""
    global _writer_depth
    if is_postgres() or database.transaction_depth() > 0:
        with database.atomic():
            yield
        return
    deadline = time.monotonic() + WRITER_QUEUE_S
    if not _SQLITE_WRITER.acquire(timeout=WRITER_QUEUE_S):
        raise OperationalError(f"database is locked: waited {WRITER_QUEUE_S} s behind this "
                               "process's other writers")
    try:
        if _writer_depth == 0:
            _lock_writer_file(deadline)
        _writer_depth += 1
        try:
            with database.atomic():
                yield
        finally:
            _writer_depth -= 1
            if _writer_depth == 0:
                fcntl.flock(_writer_file(), fcntl.LOCK_UN)
    finally:
        _SQLITE_WRITER.release()


_writer_fds: dict[tuple[str, int], int] = {}  # (database path, pid) -> the lock file's fd


def _writer_file() -> int:
    """This process's descriptor of the lock file beside the database (opened after a fork:
    an inherited one would share its lock with the parent). Called under the RLock."""
    key = (f"{database.obj.database}.writer-lock", os.getpid())
    if key not in _writer_fds:
        while len(_writer_fds) >= 8:  # tests open many databases; no lock is held on these
            os.close(_writer_fds.pop(next(iter(_writer_fds))))
        _writer_fds[key] = os.open(key[0], os.O_RDWR | os.O_CREAT, 0o600)
    return _writer_fds[key]


def _lock_writer_file(deadline: float) -> None:
    """Take the cross-process writer lock, or raise OperationalError (503) at `deadline`."""
    handle = _writer_file()
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OperationalError(f"database is locked: waited {WRITER_QUEUE_S} s behind "
                                       "other processes' writers") from None
            time.sleep(WRITER_POLL_S)
