"""The one peewee database proxy (bound by registry.db.open_database) and portable field types."""
from __future__ import annotations

import datetime as dt
import json

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
