"""A batch's items and their entry rows, laid out for the store: the change set's item
columns (``PendingItems``), the rows of their new entries (``entry_rows``, prepared once,
perhaps by another thread than the one writing them: ``PreparedEntries``), and the
snapshot part of the items delivered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from syncwright.domain.reasons import error_group
from syncwright.domain.statuses import Operation
from syncwright.sdk.changes import ItemResult
from syncwright.storage.bulk import PreparedInsert, prepare_copy, prepare_insert
from syncwright.storage.snapshots_repo import PART_SCHEMA
from syncwright.storage.tables import entries

#: The columns of an entry that come from its item in the change set.
ITEM_COLUMNS = (
    "seq",
    "item_key",
    "source_id",
    "reference",
    "operation",
    "row_hash",
    "payload",
    "retry_of",
)
#: Those an entry row copies: all but the payload, which the change set record keeps.
ENTRY_COLUMNS = tuple(name for name in ITEM_COLUMNS if name != "payload")


@dataclass(frozen=True, kw_only=True)
class PendingItems:
    """Items of a run's change set on their way to the destination: their change set rows
    (``ITEM_COLUMNS``, as Arrow), and for each how many attempts an earlier delivery made
    (one that left it pending; an item is recorded once it has an outcome)."""

    table: pa.Table
    attempts: list[int]

    @classmethod
    def fresh(cls, table: pa.Table) -> PendingItems:
        """Items no attempt has tried yet."""
        return cls(table=table, attempts=[0] * table.num_rows)

    @classmethod
    def of_rows(cls, rows: Sequence[dict[str, Any]]) -> PendingItems:
        """Items from dicts of the change set's columns (``retry_of`` may be left out)."""
        return cls.fresh(
            pa.Table.from_pylist([{"retry_of": None, **row} for row in rows], schema=ITEM_SCHEMA)
        )

    def __len__(self) -> int:
        return self.table.num_rows


#: The change set's item columns as Arrow types.
ITEM_SCHEMA = pa.schema(
    [
        ("seq", pa.int32()),
        ("item_key", pa.string()),
        ("source_id", pa.string()),
        ("reference", pa.string()),
        ("operation", pa.string()),
        ("row_hash", pa.string()),
        ("payload", pa.string()),
        ("retry_of", pa.int64()),
    ]
)


def entry_rows(
    dialect: sa.Dialect,
    table: pa.Table,
    attempts: Sequence[int],
    results: Sequence[ItemResult],
    statuses: Sequence[str],
    chosen: Sequence[int],
    fixed: dict[str, Any],
) -> PreparedInsert:
    """New entries for the items at ``chosen`` (all of them, nearly always), built column
    by column. A column with the same value in every row (the status, the attempts, no
    error: nearly always) is bound once rather than sent with each row."""
    every = len(chosen) == table.num_rows
    part_ = table if every else table.take(pa.array(chosen, pa.int64()))
    picked = results if every else [results[i] for i in chosen]
    # Texts, as the store keeps them (a destination may give a number as its endpoint id).
    errors = [None if r.error is None else str(r.error) for r in picked]
    endpoints = [None if r.endpoint_id is None else str(r.endpoint_id) for r in picked]
    if dialect.name == "postgresql":  # the item columns stay Arrow, written as CSV at once
        arrays: dict[str, pa.Array | pa.ChunkedArray] = {
            name: part_.column(name) for name in ENTRY_COLUMNS
        }
        arrays.update(
            status=pa.array(
                list(statuses) if every else [statuses[i] for i in chosen], pa.string()
            ),
            attempts=pa.array([attempts[i] + 1 for i in chosen], pa.int32()),
            error=pa.array(errors, pa.string()),
            error_group=pa.array(
                [error_group(e) if e is not None else None for e in errors], pa.string()
            ),
            endpoint_id=pa.array(endpoints, pa.string()),
        )
        return prepare_copy(dialect, entries, arrays, fixed)
    columns: dict[str, list[Any]] = {name: part_.column(name).to_pylist() for name in ENTRY_COLUMNS}
    columns.update(
        status=list(statuses) if every else [statuses[i] for i in chosen],
        attempts=[attempts[i] + 1 for i in chosen],
        error=errors,
        error_group=[error_group(e) if e is not None else None for e in errors],
        endpoint_id=endpoints,
    )
    shared = dict(fixed)
    for name in ("retry_of", "status", "attempts", "error", "error_group", "endpoint_id"):
        values = columns[name]
        # Of one type too: 1 == True == 1.0 in Python, but not in the store.
        if values.count(values[0]) == len(values) and len(set(map(type, values))) == 1:
            shared[name] = values[0]
            del columns[name]
    return prepare_insert(dialect, entries, list(columns), list(zip(*columns.values())), shared)


@dataclass(frozen=True)
class PreparedEntries:
    """A batch's entries laid out for the store before the recording (see ``prepare``)."""

    now: datetime
    statuses: list[str]
    tally: dict[str, int]
    confirmed: list[int]
    failures: list[int]
    insert: PreparedInsert


def taken(values: Any, indexes: Sequence[int], size: int) -> Any:
    """The rows (of an Arrow table or array) at ``indexes``; all of them without a copy."""
    return values if len(indexes) == size else values.take(pa.array(indexes, pa.int64()))


def snapshot_part(delivered: pa.Table) -> pa.Table:
    """A snapshot part of delivered items (their change set rows): removals as removed."""
    return pa.Table.from_arrays(
        [
            delivered.column("item_key"),
            delivered.column("reference"),
            pc.fill_null(delivered.column("row_hash"), ""),
            pc.equal(delivered.column("operation"), Operation.REMOVE.value),
        ],
        schema=PART_SCHEMA,
    )
