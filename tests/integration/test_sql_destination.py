"""The SQL destination on real SQLite, PostgreSQL and MariaDB: bulk writes, write modes, and rows the
database rejects failing alone with its message. Every test runs twice: with batches given as
``Change`` rows (as a plugin or a test builds them) and as Arrow (as the engine gives them,
which PostgreSQL copies straight from Arrow)."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa

from syncwright.connectors.sql.destination import SqlDestination
from syncwright.domain.errors import ConfigError
from syncwright.domain.statuses import EntryStatus, Operation, WriteMode
from syncwright.sdk import Change, ChangeBatch
from syncwright.sdk.changes import Column
from tests.support.databases import database_params, engine_for, kind_of, new_database

_n = itertools.count()
COLUMNS = (
    Column(name="id", type="int64"),
    Column(name="name", type="string"),
    Column(name="price", type="double"),
)


@pytest.fixture(params=database_params())
def url(request, tmp_path):
    return new_database(request, request.param, tmp_path, "sqldest")


def rows_in(url, table="items"):
    engine = engine_for(url)
    typed = sa.Table(table, sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        found = {r.id: r._asdict() for r in conn.execute(sa.select(typed))}
    engine.dispose()
    return found


_FORM = {"now": "rows"}


@pytest.fixture(params=["rows", "arrow"], autouse=True)
def form(request):
    """The form ``batch`` gives its changes in, for the test running now."""
    _FORM["now"] = request.param
    yield request.param
    _FORM["now"] = "rows"


def batch(mode, *changes, columns=COLUMNS, pk=("id",)):
    rows = ChangeBatch(changes=list(changes), write_mode=mode, primary_key=pk, columns=columns)
    return rows if _FORM["now"] == "rows" else arrow_form(rows)


def arrow_form(rows):
    """The same batch given as Arrow, as the engine gives it: each column of one type (a
    column whose values differ in type, such as a number and a word, comes as text, as a
    model of text would give it)."""
    try:
        table = rows.table
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        dicts = [c.fields if c.fields is not None else c.key for c in rows.changes]
        names = list(dict.fromkeys(k for d in dicts for k in d))
        arrays = {}
        for name in names:
            values = [d.get(name) for d in dicts]
            try:
                arrays[name] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                arrays[name] = pa.array([None if v is None else str(v) for v in values])
        table = pa.table(arrays)
    given = ChangeBatch(
        table=table,
        operations=rows.operations,
        references=rows.references,
        write_mode=rows.write_mode,
        primary_key=rows.primary_key,
        columns=rows.columns,
    )
    assert given.columnar and len(given) == len(rows)
    return given


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
    url = postgres.create_database(f"sqldest_schema_{next(_n)}")
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


# -- every statement built for the dialect ----------------------------------------------------
def create(url, *statements):
    """Run DDL on the database of ``url``."""
    engine = engine_for(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


def test_upsert_sets_only_the_rows_columns_and_deletes_no_row(url):
    """A column the model lacks keeps its value, and rows referencing a changed row by a
    foreign key (ON DELETE CASCADE or RESTRICT) neither go with it nor stop it changing."""
    create(
        url,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(20), price DOUBLE PRECISION,"
        " note VARCHAR(20) DEFAULT 'default')",
        "CREATE TABLE reviews (id INTEGER PRIMARY KEY,"
        " item_id INTEGER REFERENCES items (id) ON DELETE CASCADE)",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY,"
        " item_id INTEGER REFERENCES items (id) ON DELETE RESTRICT)",
    )
    dest = SqlDestination({"url": url, "table": "items"})
    dest.write(batch(WriteMode.UPSERT, *(add(i) for i in range(1, 6))))
    create(
        url,
        "UPDATE items SET note = 'mine'",
        "INSERT INTO reviews VALUES (1, 3)",
        "INSERT INTO orders VALUES (1, 4)",
    )
    changed = [add(i, f"new {i}", 10.0 + i, Operation.CHANGE) for i in (3, 4)] + [add(6)]
    results = dest.write(batch(WriteMode.UPSERT, *changed))
    assert [r.status for r in results] == [EntryStatus.OK] * 3, [r.error for r in results]
    results = dest.write(batch(WriteMode.UPDATE, add(5, "five", 5.5, Operation.CHANGE)))
    assert results[0].status is EntryStatus.OK
    dest.close()
    rows = rows_in(url)
    assert {i: (r["name"], r["price"]) for i, r in rows.items() if i in (3, 4, 5)} == {
        3: ("new 3", 13.0),
        4: ("new 4", 14.0),
        5: ("five", 5.5),
    }
    assert {i: r["note"] for i, r in rows.items()} == {
        **{i: "mine" for i in range(1, 6)},
        6: "default",
    }
    assert set(rows_in(url, "reviews")) == {1} and set(rows_in(url, "orders")) == {1}


def test_a_table_whose_key_is_not_its_only_unique_key_is_upserted_row_by_key(url):
    """No unique index on the key, or another one beside it: the rows whose key is present
    are updated and the others inserted, so a row repeating another row's unique value
    fails alone instead of overwriting that row."""
    create(
        url,
        "CREATE TABLE loose (id INTEGER, name VARCHAR(20), price DOUBLE PRECISION)",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(20) UNIQUE,"
        " price DOUBLE PRECISION)",
    )
    loose = SqlDestination({"url": url, "table": "loose"})
    loose.write(batch(WriteMode.UPSERT, add(1, "a"), add(2, "b")))
    results = loose.write(batch(WriteMode.UPSERT, add(2, "b2", 2.5), add(3, "c")))
    loose.close()
    assert [r.status for r in results] == [EntryStatus.OK] * 2
    assert {i: r["name"] for i, r in rows_in(url, "loose").items()} == {1: "a", 2: "b2", 3: "c"}
    assert len(rows_in(url, "loose")) == 3

    items = SqlDestination({"url": url, "table": "items"})
    items.write(batch(WriteMode.UPSERT, add(1, "a"), add(2, "b")))
    results = items.write(batch(WriteMode.UPSERT, add(3, "a"), add(2, "b2", 2.5), add(4, "d")))
    items.close()
    assert [r.status for r in results] == [EntryStatus.FAILED, EntryStatus.OK, EntryStatus.OK]
    assert "a" in results[0].error
    assert {i: r["name"] for i, r in rows_in(url, "items").items()} == {1: "a", 2: "b2", 4: "d"}


ERROR_COLUMNS = (
    Column(name="id", type="int64"),
    Column(name="name", type="string"),
    Column(name="price", type="double"),
    Column(name="qty", type="int64"),
    Column(name="parent_id", type="int64"),
)


def test_each_row_the_database_refuses_fails_alone_with_its_message(url):
    """CHECK, NOT NULL, too long, out of range, foreign key and type errors, told by the
    database's own codes, fail their row alone; the other rows land."""
    kind = kind_of(url)
    if kind == "sqlite":
        items = (
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " price REAL CHECK (price >= 0), qty INTEGER, parent_id INTEGER) STRICT"
        )
    else:
        items = (
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(10) NOT NULL,"
            " price DOUBLE PRECISION CHECK (price >= 0), qty INTEGER,"
            " parent_id INTEGER REFERENCES parents (id))"
        )
    create(url, "CREATE TABLE parents (id INTEGER PRIMARY KEY)", "INSERT INTO parents VALUES (1)")
    create(url, items)
    refused = {
        3: ({"price": -1.0}, "constraint"),
        5: ({"name": None}, "null"),
        13: ({"qty": "abc"}, "integer"),
    }
    if kind != "sqlite":  # SQLite takes text of any length, any integer, any parent
        refused |= {
            7: ({"name": "x" * 50}, "too long"),
            9: ({"qty": 2**40}, "out of range"),
            11: ({"parent_id": 999}, "foreign key"),
        }
    changes = []
    for i in range(20):
        fields = {"id": i, "name": f"n{i}", "price": 1.0, "qty": 1, "parent_id": 1}
        fields |= refused.get(i, ({}, ""))[0]
        changes.append(Change(operation=Operation.ADD, key={"id": i}, fields=fields))
    dest = SqlDestination({"url": url, "table": "items"})
    for mode in (WriteMode.UPSERT, WriteMode.INSERT):
        create(url, "DELETE FROM items")
        results = dest.write(batch(mode, *changes, columns=ERROR_COLUMNS))
        failed = {i: r.error for i, r in enumerate(results) if r.status is EntryStatus.FAILED}
        assert set(failed) == set(refused), (mode, failed)
        for i, (_, word) in refused.items():
            assert word in failed[i].lower(), (mode, i, failed[i])
            assert "INSERT" not in failed[i]
        assert set(rows_in(url)) == set(range(20)) - set(refused)
    dest.close()


def test_a_refused_statement_fails_the_batch_for_good_and_a_lost_server_for_now(
    url, request, tmp_path
):
    from syncwright.domain.errors import DestinationError

    dest = SqlDestination({"url": url, "table": "items"})
    dest.write(batch(WriteMode.UPSERT, add(1)))
    create(url, "DROP TABLE items")  # gone after the destination found it
    with pytest.raises(DestinationError) as missing:
        dest.write(batch(WriteMode.UPSERT, add(2)))
    dest.close()
    assert not missing.value.retryable
    assert "items" in str(missing.value) and "INSERT" not in str(missing.value)

    kind = kind_of(url)
    if kind == "sqlite":
        return  # SQLite has no permissions nor a server to lose
    if kind == "postgres":
        server = request.getfixturevalue("postgres")
        role = f"writer_{next(_n)}"
        user_url = server.create_role(role, "secret")
        create(server.url(role), "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    else:
        server = request.getfixturevalue("mariadb")
        database = url.rsplit("/", 1)[1]
        create(url, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        role = f"reader_{next(_n)}"
        user_url = server.create_user(role, "secret", f"SELECT ON `{database}`.*") + database
    reader = SqlDestination({"url": user_url, "table": "items"})
    with pytest.raises(DestinationError) as denied:
        reader.write(batch(WriteMode.UPSERT, add(1)))
    reader.close()
    assert not denied.value.retryable and "denied" in str(denied.value)

    from tests.support.postgres import _free_port

    closed = user_url.replace(f":{server.port}/", f":{_free_port()}/")
    unreachable = SqlDestination({"url": closed, "table": "items"})
    with pytest.raises(DestinationError) as lost:
        unreachable.write(batch(WriteMode.UPSERT, add(1)))
    unreachable.close()
    assert lost.value.retryable


def test_created_tables_hold_doubles_and_index_text_keys(url):
    columns = (
        Column(name="code", type="string"),
        Column(name="price", type="double"),
        Column(name="note", type="string"),
    )
    dest = SqlDestination({"url": url, "table": "priced"})
    codes = ["a", "A", "a ", "é" * 200]  # distinct keys, even where a collation says equal
    results = dest.write(
        batch(
            WriteMode.UPSERT,
            *(
                Change(
                    operation=Operation.ADD,
                    key={"code": c},
                    fields={"code": c, "price": 1 / 3, "note": "n" * 70_000},
                )
                for c in codes
            ),
            columns=columns,
            pk=("code",),
        )
    )
    dest.close()
    assert [r.status for r in results] == [EntryStatus.OK] * 4, [r.error for r in results]
    engine = engine_for(url)
    with engine.connect() as conn:
        types = {c["name"]: c["type"] for c in sa.inspect(conn).get_columns("priced")}
        found = conn.execute(sa.text("SELECT code, price, note FROM priced")).all()
    dialect = engine.dialect
    engine.dispose()
    assert types["price"].compile(dialect) in ("DOUBLE PRECISION", "DOUBLE")
    if kind_of(url) == "mariadb":
        assert isinstance(types["code"], sa.String) and types["code"].length == 255
    assert sorted(r.code for r in found) == sorted(codes)
    assert {r.price for r in found} == {1 / 3} and {len(r.note) for r in found} == {70_000}


def test_a_batch_given_again_or_keys_another_writer_added_are_upserted(url, form):
    """Into a table that was empty when the run began, PostgreSQL copies Arrow batches into
    the table itself; rows it has all the same (a batch delivered again after a crash, a row
    another writer added) are then upserted, not failed as duplicates."""
    dest = SqlDestination({"url": url, "table": "items"})
    first = batch(WriteMode.UPSERT, *(add(i, f"n{i}") for i in range(500)))
    assert {r.status for r in dest.write(first)} == {EntryStatus.OK}
    again = batch(WriteMode.UPSERT, *(add(i, f"again{i}") for i in range(250, 750)))
    results = dest.write(again)
    assert {r.status for r in results} == {EntryStatus.OK}, {r.error for r in results}
    dest.close()
    found = rows_in(url)
    assert len(found) == 750
    assert found[0]["name"] == "n0" and found[300]["name"] == "again300"

    other = SqlDestination({"url": url, "table": "others"})
    assert {r.status for r in other.write(batch(WriteMode.UPSERT, add(1)))} == {EntryStatus.OK}
    create(url, "INSERT INTO others (id, name, price) VALUES (5000, 'theirs', 9)")
    results = other.write(batch(WriteMode.UPSERT, add(5000, "ours"), add(5001, "new")))
    other.close()
    assert {r.status for r in results} == {EntryStatus.OK}, {r.error for r in results}
    found = rows_in(url, "others")
    assert found[5000]["name"] == "ours" and found[5001]["name"] == "new" and len(found) == 3


def test_text_keeps_empty_strings_nulls_and_special_characters(url, form):
    names = ["", None, 'comma, "quote"', "line\nbreak", "tab\tand \\ backslash", "é ü 漢字", " "]
    dest = SqlDestination({"url": url, "table": "items"})
    results = dest.write(batch(WriteMode.UPSERT, *(add(i, name) for i, name in enumerate(names))))
    dest.close()
    assert {r.status for r in results} == {EntryStatus.OK}, {r.error for r in results}
    found = rows_in(url)
    assert [found[i]["name"] for i in range(len(names))] == names


def test_times_with_a_zone_go_as_utc_into_columns_without_one(url, form):
    from zoneinfo import ZoneInfo

    naive = {"sqlite": "DATETIME", "postgres": "TIMESTAMP", "mariadb": "DATETIME(6)"}
    create(
        url, f"CREATE TABLE stamped (id INTEGER PRIMARY KEY, at {naive[kind_of(url)]}, name TEXT)"
    )
    columns = (
        Column(name="id", type="int64"),
        Column(name="at", type="timestamp[us, tz=Europe/Paris]"),
        Column(name="name", type="string"),
    )
    paris = datetime(2026, 7, 1, 10, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Paris"))
    fields = {"id": 1, "at": paris, "name": "summer"}
    dest = SqlDestination({"url": url, "table": "stamped"})
    [result] = dest.write(
        batch(
            WriteMode.UPSERT,
            Change(operation=Operation.ADD, key={"id": 1}, fields=fields),
            columns=columns,
        )
    )
    dest.close()
    assert result.status is EntryStatus.OK, result.error
    assert rows_in(url, "stamped")[1]["at"] == datetime(2026, 7, 1, 8, 30, 15, 123456)


def test_a_table_without_a_unique_key_takes_a_batch_twice_without_a_duplicate(url, form):
    create(url, "CREATE TABLE loose (id INTEGER, name TEXT, price REAL)")
    dest = SqlDestination({"url": url, "table": "loose"})
    for _ in range(2):
        results = dest.write(batch(WriteMode.UPSERT, add(1, "a"), add(2, "b")))
        assert {r.status for r in results} == {EntryStatus.OK}, {r.error for r in results}
    dest.close()
    engine = engine_for(url)
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT id, name FROM loose ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in found] == [(1, "a"), (2, "b")]


def test_postgres_quirks_a_latin1_database_an_insert_only_role_and_row_security(postgres, form):
    """Text lands as written whatever the database's encoding; a role that may only insert
    inserts (nothing asks it to read); a table with row-level security, which takes no
    COPY, is upserted all the same."""
    import psycopg

    name = f"latin_{next(_n)}"
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(
            f"CREATE DATABASE \"{name}\" ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'"
            " TEMPLATE template0"
        )
    url = postgres.url(name)
    dest = SqlDestination({"url": url, "table": "items"})
    assert {r.status for r in dest.write(batch(WriteMode.UPSERT, add(1, "café ü")))} == {
        EntryStatus.OK
    }
    dest.close()
    assert rows_in(url)[1]["name"] == "café ü"

    role = f"appender_{next(_n)}"
    own = postgres.create_role(role, "secret")
    create(postgres.url(role), "CREATE TABLE log (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
    create(postgres.url(role), f"CREATE ROLE \"{role}_w\" LOGIN PASSWORD 'secret'")
    create(postgres.url(role), f'GRANT INSERT ON log TO "{role}_w"')
    writer_url = own.replace(f"//{role}:", f"//{role}_w:")
    writer = SqlDestination({"url": writer_url, "table": "log"})
    results = writer.write(batch(WriteMode.INSERT, add(1, "one"), add(2, "two")))
    writer.close()
    assert {r.status for r in results} == {EntryStatus.OK}, {r.error for r in results}
    assert set(rows_in(postgres.url(role), "log")) == {1, 2}

    create(  # by its owner, to whom FORCE applies the policy (a superuser bypasses it)
        own,
        "CREATE TABLE guarded (id INTEGER PRIMARY KEY, name TEXT, price REAL)",
        "ALTER TABLE guarded ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE guarded FORCE ROW LEVEL SECURITY",
        "CREATE POLICY everyone ON guarded USING (true) WITH CHECK (true)",
    )
    guarded = SqlDestination({"url": own, "table": "guarded"})
    for mode in (WriteMode.UPSERT, WriteMode.INSERT):
        results = guarded.write(batch(mode, add(10 if mode is WriteMode.INSERT else 3)))
        assert {r.status for r in results} == {EntryStatus.OK}, {r.error for r in results}
    guarded.close()
    assert set(rows_in(postgres.url(role), "guarded")) == {3, 10}


def test_an_arrow_batch_is_written_without_building_its_rows(url, form):
    """Every tested database takes an upsert, an insert and removals of an Arrow batch from
    its columns (COPY on PostgreSQL, one executemany elsewhere): the batch's ``Change`` rows
    are never built."""
    if form != "arrow":
        pytest.skip("the Arrow form only")
    dest = SqlDestination({"url": url, "table": "items"})
    first = batch(WriteMode.UPSERT, *(add(i, f"n{i}", price=i / 4) for i in range(300)))
    second = batch(WriteMode.MIRROR, add(1, "changed"), remove(2), add(300, "new"))
    for given in (first, second):
        results = dest.write(given)
        assert {r.status for r in results} == {EntryStatus.OK}, {r.error for r in results}
        assert given._changes is None  # the rows view was never asked for
    fresh = SqlDestination({"url": url, "table": "appended"})
    appended = batch(WriteMode.INSERT, add(7, "a"), add(8, "b"))
    assert {r.status for r in fresh.write(appended)} == {EntryStatus.OK}
    assert appended._changes is None
    dest.close()
    fresh.close()
    found = rows_in(url)
    assert len(found) == 300 and 2 not in found
    assert (found[1]["name"], found[300]["name"], found[299]["price"]) == ("changed", "new", 74.75)
    assert {r["name"] for r in rows_in(url, "appended").values()} == {"a", "b"}


def test_a_value_its_column_cannot_take_fails_that_row_alone(url, form):
    """A flag column given 2: SQLite's driver layer and PostgreSQL refuse it (MariaDB's
    flags are small integers, and take it); the refused row fails alone, in both forms."""
    create(url, "CREATE TABLE flagged (id INTEGER PRIMARY KEY, active BOOLEAN, name TEXT)")
    columns = (
        Column(name="id", type="int64"),
        Column(name="active", type="int64"),
        Column(name="name", type="string"),
    )
    changes = [
        Change(operation=Operation.ADD, key={"id": i}, fields={"id": i, "active": v, "name": "n"})
        for i, v in enumerate([1, 0, 2, None, 1])
    ]
    dest = SqlDestination({"url": url, "table": "flagged"})
    results = dest.write(batch(WriteMode.UPSERT, *changes, columns=columns))
    dest.close()
    statuses = [r.status for r in results]
    engine = engine_for(url)
    with engine.connect() as conn:
        kept = {r[0] for r in conn.execute(sa.text("SELECT id FROM flagged"))}
    engine.dispose()
    if kind_of(url) == "mariadb":
        assert set(statuses) == {EntryStatus.OK} and kept == {0, 1, 2, 3, 4}
        return
    assert statuses == [EntryStatus.OK] * 2 + [EntryStatus.FAILED] + [EntryStatus.OK] * 2
    assert results[2].error and kept == {0, 1, 3, 4}
