"""Whole syncs from a SQL model into a SQL table, on every tested database (SQLite,
PostgreSQL, MariaDB), source and destination on the same server: every detection (diff,
cursor on a numeric and on a timestamp column, cursor + mirror), deletes and resync; and a
round-trip property over the column types a created table is given."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncwright.connectors.sql.destination import SqlDestination
from syncwright.connectors.sql.source import SqlSource
from syncwright.domain.errors import ConfigError
from syncwright.domain.report import EntryFilter
from syncwright.domain.statuses import Operation, RunStatus, WriteMode
from syncwright.sdk import Change, ChangeBatch, ReadRequest
from syncwright.sdk.changes import Column
from tests.support.catalogue import configure, run_sync
from tests.support.databases import EPOCH, Shop, database_params, kind_of, new_database, rows_of

_tables = itertools.count()


@pytest.fixture(scope="module")
def backend():
    """The store is SQLite here: the databases under test are the source and destination."""
    return "sqlite"


@pytest.fixture(params=database_params())
def shop(request, tmp_path):
    """A ``products`` table in a fresh database of each tested server."""
    catalogue = Shop(new_database(request, request.param, tmp_path, "sqlsync"))
    yield catalogue
    catalogue.close()


def setup(app, shop, name, tmp_path, *, model="", sync=""):
    configure(
        app,
        name,
        source_url=shop.url,
        dest_url=shop.url,
        base_dir=tmp_path,
        model=model,
        sync=sync,
        destination=", table: copied",
    )


def assert_copied(shop):
    """The destination table holds exactly the model's rows, value for value (on SQLite, in
    the forms SQLite keeps them)."""
    kind = kind_of(shop.url)
    model = {k: {c: as_read(v, kind) for c, v in row.items()} for k, row in shop.rows().items()}
    assert rows_of(shop.url, "copied") == model


def operations(app, run):
    entries = app.report.entries(run_id=run.id, limit=10_000)
    return {(e.operation, int(e.source_id)) for e in entries}


def test_diff_mirror_adds_changes_deletes_and_resyncs(app, shop, name, tmp_path):
    shop.put(*({"id": i} for i in range(1, 31)))
    setup(app, shop, name, tmp_path, sync=", mode: mirror")
    first = run_sync(app, name)
    assert first.status is RunStatus.SUCCEEDED, first.error
    assert (first.counters.added, first.counters.ok) == (30, 30)
    assert_copied(shop)

    shop.put({"id": 3, "price": 9.25, "name": "Ünïcode ✓ 'quoted' \"too\""}, {"id": 31})
    shop.remove(1, 2)
    second = run_sync(app, name)
    assert second.status is RunStatus.SUCCEEDED, second.error
    assert operations(app, second) == {
        (Operation.CHANGE, 3),
        (Operation.ADD, 31),
        (Operation.REMOVE, 1),
        (Operation.REMOVE, 2),
    }
    assert_copied(shop)
    assert run_sync(app, name).counters.ok == 0  # nothing changed, nothing sent

    # Someone edits the destination by hand; a resync of that item puts it right.
    with shop.engine.begin() as conn:
        conn.execute(sa.text("UPDATE copied SET price = 0 WHERE id = 5"))
    sync = app.store.config.sync_by_name(app.workspace_id, name)
    [resync] = app.runs.resync(
        EntryFilter(workspace_id=app.workspace_id, sync_ids=(sync.id,), reference="SKU-5")
    )
    done = app.runs.wait(resync.id, timeout=120, poll=0.05)
    assert done.status is RunStatus.SUCCEEDED, done.error
    assert done.counters.ok == 1
    assert_copied(shop)


@pytest.mark.parametrize("cursor", ["seq", "changed_at"])
def test_a_cursor_reads_only_rows_from_the_cursor_on(app, shop, name, tmp_path, cursor):
    shop.put(*({"id": i, "seq": i} for i in range(1, 21)))
    setup(app, shop, name, tmp_path, model=f", cursor: {cursor}", sync=", detection: cursor")
    first = run_sync(app, name)
    assert (first.counters.read, first.counters.ok) == (20, 20)

    later = EPOCH + timedelta(hours=1, microseconds=1)
    shop.put(
        {"id": 21, "seq": 100, "changed_at": later},
        {"id": 3, "seq": 101, "changed_at": later + timedelta(microseconds=1), "price": 9.5},
    )
    second = run_sync(app, name)
    assert second.status is RunStatus.SUCCEEDED, second.error
    # Only the rows from the saved cursor on are read (the one at it again, unchanged).
    c = second.counters
    assert (c.read, c.added, c.changed, c.unchanged) == (3, 1, 1, 1)
    assert operations(app, second) == {(Operation.ADD, 21), (Operation.CHANGE, 3)}
    assert_copied(shop)
    assert run_sync(app, name).counters.read == 1  # the row at the cursor


def test_a_cursor_mirror_deletes_rows_removed_from_the_model(app, shop, name, tmp_path):
    shop.put(*({"id": i, "seq": i} for i in range(1, 21)))
    setup(
        app, shop, name, tmp_path, model=", cursor: seq", sync=", detection: cursor, mode: mirror"
    )
    assert run_sync(app, name).counters.ok == 20
    shop.remove(1, 2)
    shop.put({"id": 3, "seq": 50, "price": 7.5})
    second = run_sync(app, name)
    assert second.status is RunStatus.SUCCEEDED, second.error
    assert operations(app, second) == {
        (Operation.REMOVE, 1),
        (Operation.REMOVE, 2),
        (Operation.CHANGE, 3),
    }
    assert_copied(shop)


def test_a_cursor_mirror_counts_the_model_before_reading_its_keys(app, shop, name, tmp_path):
    shop.put(*({"id": i, "seq": i} for i in range(1, 21)))
    setup(
        app, shop, name, tmp_path, model=", cursor: seq", sync=", detection: cursor, mode: mirror"
    )
    first = run_sync(app, name)
    assert first.counters.ok == 20 and "rows_counted" not in first.infos
    # No row left the model: its count (the snapshot's 20 items plus the new one) says so,
    # and the keys of every row are not read.
    shop.put({"id": 21, "seq": 100}, {"id": 4, "seq": 101, "price": 3.5})
    second = run_sync(app, name)
    assert second.status is RunStatus.SUCCEEDED, second.error
    assert second.infos["rows_counted"] == 21
    assert operations(app, second) == {(Operation.ADD, 21), (Operation.CHANGE, 4)}
    assert_copied(shop)
    # A row removed while another came: the count differs from 21 + 1, the keys are read.
    shop.remove(7)
    shop.put({"id": 22, "seq": 102})
    third = run_sync(app, name)
    assert third.status is RunStatus.SUCCEEDED, third.error
    assert "rows_counted" not in third.infos
    assert operations(app, third) == {(Operation.REMOVE, 7), (Operation.ADD, 22)}
    assert_copied(shop)
    fourth = run_sync(app, name)
    assert fourth.infos["rows_counted"] == 21 and fourth.counters.removed == 0


def test_rows_the_cursor_cannot_see_never_hide_a_removal(app, shop, name, tmp_path):
    """The count stands for the keys only when every row of the model is either delivered
    or read past the cursor: a row with no cursor value, and a row whose addition failed
    (the cursor moved past it), would each cancel out a removal in the count; with either
    in the model, the keys are read and the removal is delivered."""
    shop.put(*({"id": i, "seq": i} for i in range(1, 21)))
    setup(
        app,
        shop,
        name,
        tmp_path,
        model=", cursor: seq",
        sync=", detection: cursor, mode: mirror, retry: {next_run: false}",
    )
    first = run_sync(app, name)
    assert first.counters.ok == 20, first.error
    # A row with no cursor value comes, another row goes: counted, they cancel out.
    shop.put({"id": 21, "seq": None})
    shop.remove(5)
    second = run_sync(app, name)
    assert second.status is RunStatus.SUCCEEDED, second.error
    assert "rows_counted" not in second.infos
    assert (Operation.REMOVE, 5) in operations(app, second)
    shop.remove(21)
    assert run_sync(app, name).counters.removed == 0  # never delivered: nothing to remove
    # A row the destination refuses (its sku is taken), and the cursor moves past it.
    engine = sa.create_engine(shop.url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE UNIQUE INDEX copied_sku ON copied (sku)"))
    engine.dispose()
    shop.put({"id": 22, "seq": 100, "sku": "SKU-1"}, {"id": 23, "seq": 101})
    third = run_sync(app, name)
    assert (third.counters.failed, third.counters.ok) == (1, 1), third.error
    shop.remove(6)
    fourth = run_sync(app, name)
    assert fourth.status is RunStatus.SUCCEEDED, fourth.error
    assert "rows_counted" not in fourth.infos
    assert (Operation.REMOVE, 6) in operations(app, fourth)
    assert set(rows_of(shop.url, "copied")) == set(shop.rows()) - {22}


# -- round trip ------------------------------------------------------------------------

COLUMNS = (
    Column(name="id", type="string"),
    Column(name="qty", type="int64"),
    Column(name="price", type="double"),
    Column(name="label", type="string"),
    Column(name="active", type="bool"),
    Column(name="day", type="date32[day]"),
    Column(name="at", type="timestamp[us]"),
    Column(name="amount", type="decimal128(12, 2)"),
)

text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)
rows = st.lists(
    st.fixed_dictionaries(
        {
            # Keys differing only in case or trailing spaces are distinct rows.
            "id": st.text(st.sampled_from("aAbB é"), min_size=1, max_size=8),
            "qty": st.integers(-(2**63), 2**63 - 1),
            "price": st.floats(allow_nan=False, allow_infinity=False, width=64),
            "label": st.one_of(st.none(), text),
            "active": st.booleans(),
            "day": st.dates(date(1000, 1, 1), date(9999, 12, 31)),
            "at": st.datetimes(datetime(1970, 1, 2), datetime(2999, 12, 31)),
            "amount": st.decimals(
                min_value=Decimal("-9999999999.99"),
                max_value=Decimal("9999999999.99"),
                places=2,
                allow_nan=False,
                allow_infinity=False,
            ),
        }
    ),
    min_size=1,
    max_size=15,
    unique_by=lambda r: r["id"],
)


def as_read(value, kind):
    """A value as the database gives it back: SQLite keeps dates, times and booleans in its
    own forms (text, 0/1) and decimals as numbers; MariaDB has no boolean type (0/1)."""
    if isinstance(value, bool) and kind in ("sqlite", "mariadb"):
        return int(value)
    if kind != "sqlite":
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def equal(found, wanted):
    if isinstance(wanted, Decimal):
        return Decimal(str(found)) == wanted
    if isinstance(wanted, float):
        return found == wanted
    return found == wanted and type(found) is type(wanted)


@pytest.fixture(params=database_params())
def database(request, tmp_path):
    return new_database(request, request.param, tmp_path, "roundtrip")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=rows)
def test_values_written_to_a_created_table_read_back_unchanged(database, data):
    table = f"roundtrip_{next(_tables)}"
    destination = SqlDestination({"url": database, "table": table})
    try:
        results = destination.write(
            ChangeBatch(
                changes=[
                    Change(operation=Operation.ADD, key={"id": r["id"]}, fields=r) for r in data
                ],
                write_mode=WriteMode.UPSERT,
                primary_key=("id",),
                columns=COLUMNS,
            )
        )
    finally:
        destination.close()
    assert all(r.error is None for r in results), [r.error for r in results if r.error]
    source = SqlSource({"url": database})
    request = ReadRequest(query=f"SELECT * FROM {table}", primary_key=("id",))
    read = {r["id"]: r for batch in source.read(request) for r in batch.to_pylist()}
    kind = kind_of(database)
    assert read.keys() == {r["id"] for r in data}
    for row in data:
        got = read[row["id"]]
        for name, value in row.items():
            wanted = as_read(value, kind)
            assert equal(got[name], wanted), (name, got[name], wanted)
    engine = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {table}"))
    engine.dispose()


def test_a_model_is_checked_on_its_database_when_applied(app, shop, name, tmp_path):
    # The query runs for no row: its columns are known before any run.
    assert SqlSource({"url": shop.url}).describe("SELECT id, sku AS code FROM products;") == [
        "id",
        "code",
    ]
    cases = [
        ("SELECT id FROM no_such_table", "", "query", "does not run"),
        ("SELECT sku, name FROM products", "", "primary_key", "no column 'id' of the primary key"),
        ("SELECT id, sku FROM products", ", cursor: seq", "cursor", "no cursor column 'seq'"),
    ]
    for query, model, field, reason in cases:
        with pytest.raises(ConfigError, match=reason) as refused:
            configure(
                app,
                name,
                source_url=shop.url,
                dest_url=shop.url,
                base_dir=tmp_path,
                query=query,
                model=model,
            )
        assert refused.value.field == f"models.{name}_model.{field}"
        assert "model '" + name + "_model'" in str(refused.value)
        # Nothing of the file was applied.
        assert app.store.config.find("sync", app.workspace_id, name) is None
