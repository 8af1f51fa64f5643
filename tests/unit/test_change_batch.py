"""A batch in both forms: given as ``Change`` rows its Arrow view is built, given as Arrow its
rows are; and a destination's answer for a whole batch."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from syncwright.domain.statuses import EntryStatus, Operation, WriteMode
from syncwright.sdk.changes import BatchResult, Change, ChangeBatch, Column, ItemResult

COLUMNS = (
    Column(name="id", type="int64"),
    Column(name="name", type="string"),
    Column(name="at", type="timestamp[us, tz=UTC]"),
)
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _changes():
    return [
        Change(
            operation=Operation.ADD,
            key={"id": 1},
            fields={"id": 1, "name": "one", "at": AT},
            reference="R1",
        ),
        Change(operation=Operation.REMOVE, key={"id": 2}, reference="R2"),
    ]


def test_rows_give_their_arrow_view_typed_as_the_models_columns():
    batch = ChangeBatch(
        changes=_changes(), write_mode=WriteMode.MIRROR, primary_key=("id",), columns=COLUMNS
    )
    assert not batch.columnar and len(batch) == 2
    assert batch.table.schema == pa.schema(
        [("id", pa.int64()), ("name", pa.string()), ("at", pa.timestamp("us", tz="UTC"))]
    )
    assert batch.table.to_pylist() == [
        {"id": 1, "name": "one", "at": AT},
        {"id": 2, "name": None, "at": None},  # a removal: its key
    ]
    assert batch.operations.to_pylist() == ["add", "remove"]
    assert batch.references.to_pylist() == ["R1", "R2"]


def test_arrow_gives_its_rows_and_removals_their_key_only():
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "name": ["one", None],
            "amount": pa.array([Decimal("1.50"), None], pa.decimal128(10, 2)),
        }
    )
    batch = ChangeBatch(
        table=table,
        operations=pa.array(["change", "remove"]),
        references=pa.array(["R1", "R2"]),
        write_mode=WriteMode.MIRROR,
        primary_key=("id",),
    )
    assert batch.columnar and len(batch) == 2
    change, removal = batch.changes
    assert change == Change(
        operation=Operation.CHANGE,
        key={"id": 1},
        fields={"id": 1, "name": "one", "amount": Decimal("1.50")},
        reference="R1",
    )
    assert removal == Change(operation=Operation.REMOVE, key={"id": 2}, reference="R2")
    assert batch.unchanged == [] and batch.unchanged_table.num_rows == 0


@pytest.mark.parametrize(
    "kind",
    [
        pa.int32(),
        pa.float64(),
        pa.bool_(),
        pa.date32(),
        pa.time64("us"),
        pa.timestamp("ms"),
        pa.timestamp("us", tz="Europe/Paris"),
        pa.decimal128(12, 3),
        pa.decimal256(40, 0),
        pa.large_string(),
    ],
)
def test_each_type_name_of_a_models_column_is_told_back(kind):
    columns = (Column(name="id", type="int64"), Column(name="v", type=str(kind)))
    change = Change(operation=Operation.ADD, key={"id": 1}, fields={"id": 1, "v": None})
    batch = ChangeBatch(
        changes=[change], write_mode=WriteMode.UPSERT, primary_key=("id",), columns=columns
    )
    assert batch.table.schema.field("v").type == kind


def test_values_of_other_types_than_the_columns_say_are_kept_as_they_are():
    changes = [
        Change(operation=Operation.ADD, key={"id": "A-1"}, fields={"id": "A-1", "name": "x"})
    ]
    batch = ChangeBatch(
        changes=changes, write_mode=WriteMode.UPSERT, primary_key=("id",), columns=COLUMNS
    )
    assert batch.table.column("id").to_pylist() == ["A-1"]


def test_a_batch_takes_one_form_and_one_operation_per_row():
    with pytest.raises(TypeError, match="either"):
        ChangeBatch(write_mode=WriteMode.UPSERT, primary_key=("id",))
    with pytest.raises(TypeError, match="one operation and reference per row"):
        ChangeBatch(
            table=pa.table({"id": [1, 2]}),
            operations=pa.array(["add"]),
            references=pa.array(["a", "b"]),
            write_mode=WriteMode.UPSERT,
            primary_key=("id",),
        )


def test_a_batch_result_reads_as_one_result_per_change():
    failed = ItemResult.failed("price below floor")
    answer = BatchResult.ok(3, {1: failed})
    assert len(answer) == 3 and list(answer) == [ItemResult.ok(), failed, ItemResult.ok()]
    assert answer[1] is failed and answer[-1].status is EntryStatus.OK
    assert [r.status for r in BatchResult.sent(2)] == [EntryStatus.SENT] * 2
    with pytest.raises(IndexError):
        answer[3]
    with pytest.raises(ValueError, match="outside the batch"):
        BatchResult.ok(2, {2: failed})
    with pytest.raises(ValueError, match="ok or sent"):
        BatchResult(size=1, status=EntryStatus.FAILED)
