"""The SQL destination on real SQLite and PostgreSQL: bulk writes, write modes, and rows the
database rejects failing alone with its message."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from syncwright.connectors.sql.destination import SqlDestination
from syncwright.domain.errors import ConfigError
from syncwright.domain.statuses import EntryStatus, Operation, WriteMode
from syncwright.sdk import Change, ChangeBatch
from syncwright.sdk.changes import Column

_n = itertools.count()
COLUMNS = (
    Column(name="id", type="int64"),
    Column(name="name", type="string"),
    Column(name="price", type="double"),
)


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path):
    if request.param == "postgres":
        return request.getfixturevalue("postgres").create_database(f"sqldest_{next(_n)}")
    return f"sqlite:///{tmp_path / 'dest.db'}"


def engine_for(url):
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def rows_in(url, table="items"):
    engine = engine_for(url)
    typed = sa.Table(table, sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        found = {r.id: r._asdict() for r in conn.execute(sa.select(typed))}
    engine.dispose()
    return found


def batch(mode, *changes, columns=COLUMNS, pk=("id",)):
    return ChangeBatch(changes=list(changes), write_mode=mode, primary_key=pk, columns=columns)


def add(i, name="x", price=1.0, op=Operation.ADD):
    return Change(operation=op, key={"id": i}, fields={"id": i, "name": name, "price": price})


def remove(i):
    return Change(operation=Operation.REMOVE, key={"id": i})


def test_creates_the_table_and_upserts(url):
    dest = SqlDestination({"url": url, "table": "items"})
    results = dest.write(batch(WriteMode.UPSERT, *(add(i) for i in range(100))))
    assert [r.status for r in results] == [EntryStatus.OK] * 100
    results = dest.write(batch(WriteMode.UPSERT, add(5, "five", 5.0, Operation.CHANGE), add(200)))
    assert all(r.status is EntryStatus.OK for r in results)
    dest.close()
    rows = rows_in(url)
    assert len(rows) == 101 and rows[5]["name"] == "five" and rows[5]["price"] == 5.0
    inspector = sa.inspect(engine_for(url))
    assert inspector.get_pk_constraint("items")["constrained_columns"] == ["id"]


@pytest.mark.postgres
def test_upserts_into_a_table_of_another_schema(postgres):
    url = postgres.create_database(f"sqldest_{next(_n)}")
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.execute(sa.text('CREATE SCHEMA "Shop Data"'))
    dest = SqlDestination({"url": url, "table": "Items", "db_schema": "Shop Data"})
    first = dest.write(batch(WriteMode.UPSERT, add(1), add(2)))
    assert [r.status for r in first] == [EntryStatus.OK] * 2
    again = dest.write(batch(WriteMode.UPSERT, add(2, "two", 2.0), add(3)))
    assert [r.status for r in again] == [EntryStatus.OK] * 2
    dest.close()
    with engine.connect() as conn:
        found = conn.execute(sa.text('SELECT id, name FROM "Shop Data"."Items" ORDER BY id'))
        assert [tuple(r) for r in found] == [(1, "x"), (2, "two"), (3, "x")]
    engine.dispose()


def test_rejected_rows_fail_alone_with_the_database_message(url):
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL)")
        )
    engine.dispose()
    dest = SqlDestination({"url": url, "table": "items"})
    bad = {3, 50, 51, 97}
    changes = [add(i, None if i in bad else f"n{i}") for i in range(100)]
    results = dest.write(batch(WriteMode.UPSERT, *changes))
    dest.close()
    failed = {i for i, r in enumerate(results) if r.status is EntryStatus.FAILED}
    assert failed == bad
    assert all("name" in results[i].error and "null" in results[i].error.lower() for i in bad)
    assert all("INSERT" not in results[i].error for i in bad)  # the message, not the SQL dump
    assert set(rows_in(url)) == set(range(100)) - bad


def test_insert_refuses_existing_keys_one_by_one(url):
    dest = SqlDestination({"url": url, "table": "items"})
    dest.write(batch(WriteMode.INSERT, add(1), add(2)))
    results = dest.write(batch(WriteMode.INSERT, add(2, "again"), add(3)))
    dest.close()
    assert [r.status for r in results] == [EntryStatus.FAILED, EntryStatus.OK]
    assert rows_in(url)[2]["name"] == "x"


def test_update_fails_missing_rows_and_mirror_deletes(url):
    dest = SqlDestination({"url": url, "table": "items"})
    dest.write(batch(WriteMode.UPSERT, add(1), add(2), add(3)))
    results = dest.write(
        batch(WriteMode.UPDATE, add(1, "one", op=Operation.CHANGE), add(9, op=Operation.CHANGE))
    )
    assert results[0].status is EntryStatus.OK
    assert results[1].status is EntryStatus.FAILED and "no row with key id=9" in results[1].error
    results = dest.write(batch(WriteMode.MIRROR, remove(2), add(4)))
    dest.close()
    assert all(r.status is EntryStatus.OK for r in results)
    assert {k: v["name"] for k, v in rows_in(url).items()} == {1: "one", 3: "x", 4: "x"}


def test_typed_values_round_trip(url):
    columns = (
        Column(name="id", type="int64"),
        Column(name="at", type="timestamp[us]"),
        Column(name="day", type="date32[day]"),
        Column(name="amount", type="decimal128(10, 2)"),
        Column(name="active", type="bool"),
    )
    value = {
        "id": 1,
        "at": datetime(2026, 3, 4, 5, 6, 7),
        "day": date(2026, 3, 4),
        "amount": Decimal("12.50"),
        "active": True,
    }
    dest = SqlDestination({"url": url, "table": "typed"})
    [result] = dest.write(
        batch(
            WriteMode.UPSERT,
            Change(operation=Operation.ADD, key={"id": 1}, fields=value),
            columns=columns,
        )
    )
    dest.close()
    assert result.status is EntryStatus.OK
    row = rows_in(url, "typed")[1]
    assert row["at"] == value["at"] and row["day"] == value["day"] and bool(row["active"])
    assert Decimal(str(row["amount"])) == Decimal("12.50")


def test_a_missing_table_can_be_refused(url):
    dest = SqlDestination({"url": url, "table": "absent", "create_table": False})
    with pytest.raises(ConfigError, match="does not exist"):
        dest.write(batch(WriteMode.UPSERT, add(1)))


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError) as caught:
        SqlDestination({"url": "sqlite://"})
    assert caught.value.field == "config.table"
