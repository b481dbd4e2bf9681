"""SQLite writers of every process queue on an advisory lock beside the database file, polled
every millisecond, rather than on SQLite's busy handler, whose sleeps grow to 100 ms."""
from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest
from peewee import OperationalError

from registry import db as registry_db
from registry.db import database, write_transaction
from registry.services.models import create_model


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_writer_waits_for_another_process_and_goes_as_soon_as_it_is_done(db, monkeypatch):
    monkeypatch.setattr(registry_db, "WRITER_QUEUE_S", 0.3)
    other = os.open(f"{database.obj.database}.writer-lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)  # another open file: as another process holds it
        started = time.monotonic()
        with pytest.raises(OperationalError, match="other processes' writers"):
            with write_transaction():
                pass
        assert 0.3 <= time.monotonic() - started < 2  # a 503, not a hang
        threading.Timer(0.1, fcntl.flock, (other, fcntl.LOCK_UN)).start()
        started = time.monotonic()
        create_model("fraud", actor="test")
        assert time.monotonic() - started < 0.25  # went as soon as the other was done
    finally:
        os.close(other)
