"""The one peewee database proxy (bound by registry.db.open_database), the statements run over
and over (prepared once per connection on PostgreSQL) and portable field types."""
from __future__ import annotations

import datetime as dt
import json
import weakref
from typing import Callable

from peewee import BigIntegerField, DatabaseProxy, Model, PostgresqlDatabase, TextField

database = DatabaseProxy()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def require_transaction(what: str) -> None:
    """The package's writes join the caller's transaction (a registry service owns it, with the
    change's event and audit row); raises RuntimeError when there is none."""
    if database.transaction_depth() == 0:
        raise RuntimeError(f"{what} must run inside the caller's transaction")


def is_postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)


_prepared: dict[str, weakref.WeakSet] = {}  # query name -> connections that prepared it
_sqlite_text: dict[str, str] = {}  # query name -> its text with SQLite's placeholders


Placeholder = Callable[[int], str]  # the text of the n-th parameter (from 1) in a statement


Step = tuple[str, Callable[[Placeholder], str], tuple]  # a prepared statement: name, SQL, params


def fetch_prepared(name: str, build_sql: Callable[[Placeholder], str], params: tuple, *,
                   after: Step | None = None) -> list[tuple]:
    """Rows of a statement run over and over (a read, or a write with RETURNING inside the
    caller's transaction). `build_sql` writes the statement with
    the placeholder it is given for each parameter. On PostgreSQL the query is prepared once per
    pooled connection (`$1`, `$2`, ...), since planning it costs more than running it; SQLite
    gets its numbered placeholders (`?1`, `?2`, ...), so a parameter may appear more than once.
    With `after`, that statement runs first, in the same round trip on PostgreSQL: the second
    sees what the first wrote and starts once the first has the row locks it waited for (each
    statement of a string takes its own snapshot), and only the second's rows come back."""
    steps = [after, (name, build_sql, params)] if after else [(name, build_sql, params)]
    if not is_postgres():
        for step_name, build, step_params in steps:
            sql = _sqlite_text.get(step_name)
            if sql is None:  # built once per query name: this runs on every look-up
                sql = _sqlite_text[step_name] = build(lambda n: f"?{n}")
            rows = database.execute_sql(sql, step_params).fetchall()
        return rows
    connection = database.connection()
    for step_name, build, _ in steps:
        prepared = _prepared.setdefault(step_name, weakref.WeakSet())
        if connection not in prepared:
            database.execute_sql(f"PREPARE {step_name} AS {build(lambda n: f'${n}')}")
            prepared.add(connection)
    text = "; ".join(f"EXECUTE {step_name}" + (
        f" ({', '.join([database.param] * len(step_params))})" if step_params else "")
        for step_name, _, step_params in steps)
    return database.execute_sql(text, [value for *_, step_params in steps
                                       for value in step_params]).fetchall()


def select_prepared(name: str, table: type[Model], tail: Callable[[Placeholder], str],
                    params: tuple, *, after: Step | None = None) -> list[Model]:
    """Every column of the rows of `table` that `tail` (the text after `FROM table`) chooses, as
    model instances, through fetch_prepared: for the reads every write of a kind repeats, whose
    SQL peewee would otherwise rebuild node by node each time."""
    fields = table._meta.sorted_fields

    def build(param: Placeholder) -> str:
        columns = ", ".join(f'"{field.column_name}"' for field in fields)
        return f'SELECT {columns} FROM "{table._meta.table_name}" {tail(param)}'

    return [table(__no_default__=True,
                  **{field.name: field.python_value(value) for field, value in zip(fields, row)})
            for row in fetch_prepared(name, build, params, after=after)]


def rfc3339(value: dt.datetime | None) -> str | None:
    """The one wire format for instants: RFC 3339 in UTC with microseconds and a Z."""
    if value is None:
        return None
    # isoformat, not strftime: %Y does not pad years before 1000 to four digits
    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds").replace(
        "+00:00", "Z")


class UTCTimestampField(BigIntegerField):
    """An instant as integer microseconds since the epoch: exact, sortable and portable."""

    def db_value(self, value):
        if value is None or isinstance(value, int):
            return value
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        return delta // dt.timedelta(microseconds=1)

    def python_value(self, value):
        if value is None:
            return None
        return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=value)


class JSONTextField(TextField):
    """JSON kept as text; read whole, never queried inside."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False
