"""The change set's payloads typed back into the model's columns: what staging recorded of
the model's rows is what the destination receives, value for value."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncwright.domain.statuses import WriteMode
from syncwright.engine.rows import RowDecoder
from syncwright.engine.staging import Staging
from syncwright.storage.snapshots_repo import SnapshotLog

SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("name", pa.string()),
        ('odd "name"/~x', pa.string()),
        ("price", pa.float64()),
        ("amount", pa.decimal128(12, 2)),
        ("active", pa.bool_()),
        ("day", pa.date32()),
        ("at", pa.timestamp("us")),
        ("zoned", pa.timestamp("us", tz="UTC")),
        ("clock", pa.time64("us")),
        ("small", pa.int16()),
        ("big", pa.uint64()),
        ("nothing", pa.null()),
    ]
)

TEXT = st.one_of(st.none(), st.text(max_size=20))
ROW = st.fixed_dictionaries(
    {
        "name": TEXT,
        'odd "name"/~x': TEXT,
        "price": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
        "amount": st.one_of(
            st.none(),
            st.decimals(
                min_value=-(10**9), max_value=10**9, places=2, allow_nan=False, allow_infinity=False
            ),
        ),
        "active": st.one_of(st.none(), st.booleans()),
        "day": st.one_of(st.none(), st.dates(min_value=date(1, 1, 1))),
        "at": st.one_of(st.none(), st.datetimes(min_value=datetime(1900, 1, 1))),
        "zoned": st.one_of(
            st.none(),
            st.datetimes(min_value=datetime(1900, 1, 1)).map(lambda d: d.replace(tzinfo=UTC)),
        ),
        "clock": st.one_of(st.none(), st.times()),
        "small": st.one_of(st.none(), st.integers(-(2**15), 2**15 - 1)),
        "big": st.one_of(st.none(), st.integers(0, 2**64 - 1)),
        "nothing": st.none(),
    }
)


def _delivered(rows: list[dict], schema: pa.Schema = SCHEMA) -> tuple[pa.Table, RowDecoder]:
    """The rows through staging, as a run would record them: its change set and decoder."""
    with tempfile.TemporaryDirectory() as folder:
        staging = Staging(Path(folder) / "s.duckdb", primary_key=("id",))
        staging.add_rows(pa.RecordBatch.from_pylist(rows, schema=schema))
        staging.load_snapshot(SnapshotLog([], folded=True))
        staging.diff(full=False, see_removals=True, write_mode=WriteMode.UPSERT)
        changes = pa.Table.from_batches(list(staging.deliverable_batches()))
        decoder = RowDecoder(staging.model_columns(), staging.sql_types)
        staging.close()
    return changes, decoder


@settings(max_examples=60, deadline=None)
@given(st.lists(ROW, min_size=1, max_size=8))
def test_the_destination_receives_the_rows_the_model_gave(rows):
    rows = [{"id": i, **row} for i, row in enumerate(rows)]
    changes, decoder = _delivered(rows)
    assert decoder.columnar
    typed = decoder.table(changes.column("payload"))
    decoder.close()
    assert typed.column_names == SCHEMA.names
    by_id = {r["id"]: r for r in rows}
    got = sorted(typed.to_pylist(), key=lambda r: r["id"])
    for row in got:
        want = by_id[row["id"]]
        if want["zoned"] is not None:
            assert row["zoned"] == want["zoned"]
            row["zoned"] = want["zoned"]
        assert row == want


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (pa.list_(pa.string()), ["a", None]),
        (pa.struct([("w", pa.int32())]), {"w": 3}),
        (pa.map_(pa.string(), pa.int64()), [("k", 1)]),
        (pa.binary(), b"\x00\x01"),
        (pa.duration("s"), 5),
    ],
)
def test_a_model_with_a_column_the_cast_would_change_is_decoded_row_by_row(kind, value):
    """Lists, structs, maps, bytes and intervals would come back from the cast otherwise
    than their payload's JSON says: such a model goes the row-by-row way."""
    schema = pa.schema([("id", pa.int64()), ("v", kind)])
    changes, decoder = _delivered([{"id": 1, "v": value}], schema)
    assert not decoder.columnar
    decoder.close()


def test_nanoseconds_come_at_the_microseconds_a_python_datetime_holds():
    schema = pa.schema([("id", pa.int64()), ("at", pa.timestamp("ns"))])
    rows = [{"id": 1, "at": 1_700_000_000_123_456_789}]
    changes, decoder = _delivered(rows, schema)
    [row] = decoder.table(changes.column("payload")).to_pylist()
    decoder.close()
    assert row["at"] == datetime(2023, 11, 14, 22, 13, 20, 123456)


def test_wide_whole_decimals_come_exact():
    schema = pa.schema([("id", pa.int64()), ("n", pa.decimal128(38, 0))])
    changes, decoder = _delivered([{"id": 1, "n": Decimal(10**30 + 1)}], schema)
    [row] = decoder.table(changes.column("payload")).to_pylist()
    decoder.close()
    assert row["n"] == Decimal(10**30 + 1)


def test_uuids_come_as_text():
    import uuid

    value = uuid.uuid4()
    decoder = RowDecoder((), {"id": "UUID"})
    [row] = decoder.table(pa.array([f'{{"id":"{value}"}}'])).to_pylist()
    decoder.close()
    assert row == {"id": str(value)}


def test_a_closed_decoder_decodes_no_more():
    decoder = RowDecoder((), {"id": "BIGINT"})
    decoder.close()
    with pytest.raises(RuntimeError, match="closed"):
        decoder.table(pa.array(['{"id":1}']))


def test_a_removal_comes_with_its_key_and_nulls():
    decoder = RowDecoder((), {"id": "BIGINT", "name": "VARCHAR", "at": "TIMESTAMP"})
    typed = decoder.table(pa.array(['{"id":7}', '{"id":8,"name":"x","at":"2026-01-02 03:04:05"}']))
    decoder.close()
    assert typed.to_pylist() == [
        {"id": 7, "name": None, "at": None},
        {"id": 8, "name": "x", "at": datetime(2026, 1, 2, 3, 4, 5)},
    ]


def test_a_value_its_column_cannot_hold_fails_loudly_never_a_silent_null():
    decoder = RowDecoder((), {"id": "BIGINT", "price": "DOUBLE"})
    with pytest.raises(duckdb.Error, match="abc"):
        decoder.table(pa.array(['{"id":1,"price":"abc"}']))
    decoder.close()


def test_the_decoder_reaches_no_file(tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    decoder = RowDecoder((), {"id": "BIGINT"})
    decoder.table(pa.array(['{"id":1}']))
    assert decoder._db is not None
    with pytest.raises(duckdb.Error):
        decoder._db.sql(f"SELECT * FROM read_csv('{secret}')").fetchall()
    decoder.close()


def test_a_model_whose_column_changes_type_between_batches_is_decoded_row_by_row(tmp_path):
    staging = Staging(tmp_path / "s.duckdb", primary_key=("id",))
    staging.add_rows(pa.RecordBatch.from_pylist([{"id": 1, "v": None}]))
    staging.add_rows(pa.RecordBatch.from_pylist([{"id": 2, "v": 5}]))
    assert staging.sql_types == {"id": "BIGINT", "v": "BIGINT"}  # an empty column takes a type
    staging.add_rows(pa.RecordBatch.from_pylist([{"id": 3, "v": 1.5}]))
    assert staging.sql_types is None  # 1.5 cast to a whole number would change the value
    assert not RowDecoder(staging.model_columns(), staging.sql_types).columnar
    staging.close()


def test_batches_with_other_columns_are_decoded_row_by_row(tmp_path):
    """A payload lacking a column another batch had says the model left it unset (an upsert
    keeps the destination's value), which a null would not say."""
    staging = Staging(tmp_path / "s.duckdb", primary_key=("id",))
    staging.add_rows(pa.RecordBatch.from_pylist([{"id": 1, "v": 1}]))
    staging.add_rows(pa.RecordBatch.from_pylist([{"id": 2, "v": 2, "w": "x"}]))
    assert staging.sql_types is None
    staging.close()


def test_a_column_named_like_the_rows_alias_is_a_column(tmp_path):
    staging = Staging(tmp_path / "s.duckdb", primary_key=("id",))
    staging.add_rows(pa.RecordBatch.from_pylist([{"id": 1, "t": "a", "T_": "b"}]))
    staging.flush()
    [(payload,)] = staging.db.execute("SELECT payload FROM cur").fetchall()
    staging.close()
    assert json.loads(payload) == {"id": 1, "t": "a", "T_": "b"}


def test_times_keep_their_time_zone():
    decoder = RowDecoder((), {"id": "BIGINT", "at": "TIMESTAMP WITH TIME ZONE", "t": "TIME"})
    [row] = decoder.table(
        pa.array(['{"id":1,"at":"2026-07-01 10:00:00+02","t":"10:11:12"}'])
    ).to_pylist()
    decoder.close()
    assert row["at"] == datetime(2026, 7, 1, 8, 0, tzinfo=UTC) and row["t"] == time(10, 11, 12)
