"""One SQLite library per file per process. The ADBC driver bundles its own SQLite: opening and
closing a file through it drops the POSIX locks Python's sqlite3 holds on that file in the same
process, and another process then deletes the WAL from under sqlite3 (the database ends
"malformed"). A source must not read through ADBC a file a destination of its process holds."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading

import pyarrow as pa
import pytest

from syncwright.connectors.registry import ConnectorRegistry
from syncwright.domain.statuses import Operation, WriteMode
from syncwright.sdk import Change, ChangeBatch, ReadRequest, sqlite_files
from tests.support.catalogue import Catalogue
from tests.support.cli import wait_for


def another_process_opens_and_closes(path):
    """What any other process (a CLI command) does; it deletes the WAL when it believes it is
    the last one with the file open."""
    code = f"import sqlite3; c = sqlite3.connect({str(path)!r}); c.execute('SELECT count(*) FROM sqlite_master').fetchall(); c.close()"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_source_reading_a_file_a_destination_holds_keeps_its_locks(tmp_path):
    path = tmp_path / "shop.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = wal")
    db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE copy (id INTEGER PRIMARY KEY)")
    db.executemany("INSERT INTO products VALUES (?)", [(i,) for i in range(1, 101)])
    db.commit()
    db.close()
    registry = ConnectorRegistry()
    url = f"sqlite:///{path}"
    destination = registry.destination("sql", {"url": url, "table": "copy"})
    try:
        batch = ChangeBatch(
            changes=[Change(operation=Operation.ADD, key={"id": 1}, fields={"id": 1})],
            write_mode=WriteMode.UPSERT,
            primary_key=("id",),
        )
        assert [r.status.value for r in destination.write(batch)] == ["ok"]
        assert sqlite_files.holders(path) == {"sqlite3": 1}
        source = registry.source("sql", {"url": url})
        rows = sum(
            b.num_rows
            for b in source.read(ReadRequest(query="SELECT * FROM products", primary_key=("id",)))
            if isinstance(b, pa.RecordBatch)
        )
        assert rows == 100
        another_process_opens_and_closes(path)
        # The destination's connection still holds the file: nobody removed its WAL.
        assert os.path.exists(f"{path}-wal")
        assert [r.status.value for r in destination.write(batch)] == ["ok"]
    finally:
        destination.close()
    assert sqlite_files.holders(path) == {}
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_the_fast_reader_is_used_when_nothing_else_holds_the_file(tmp_path):
    shop = Catalogue(tmp_path / "shop.db")
    shop.put({"id": 1})
    source = ConnectorRegistry().source("sql", {"url": f"sqlite:///{shop.path}"})
    reading = source.read(ReadRequest(query="SELECT * FROM products", primary_key=("id",)))
    next(reading)
    assert sqlite_files.holders(shop.path) == {"adbc": 1}
    reading.close()
    assert sqlite_files.holders(shop.path) == {}


def test_sqlite3_waits_for_the_fast_reader_to_let_go(tmp_path):
    path = tmp_path / "x.db"
    release_adbc = sqlite_files.try_hold(path, "adbc")
    assert release_adbc is not None
    got = threading.Event()

    def open_with_sqlite3():
        sqlite_files.hold(path, "sqlite3")()
        got.set()

    waiter = threading.Thread(target=open_with_sqlite3)
    waiter.start()
    # While sqlite3 waits, no new fast reader takes the file.
    wait_for(lambda: sqlite_files.waiting(path))
    assert sqlite_files.try_hold(path, "adbc") is None
    assert not got.is_set()
    release_adbc()
    waiter.join(timeout=60)
    assert got.is_set()
    release = sqlite_files.try_hold(path, "adbc")
    assert release is not None
    try:
        with pytest.raises(TimeoutError):
            sqlite_files.hold(path, "sqlite3", timeout=0.05)
    finally:
        release()
    assert sqlite_files.holders(path) == {}
