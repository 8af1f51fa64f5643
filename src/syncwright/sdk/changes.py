"""The changes a destination receives and the results it returns.

A batch holds its changes in two forms, each built only when asked for: as Arrow (``table``:
the model's columns, one row per change, with ``operations`` and ``references`` beside it)
for destinations with a bulk path (COPY, a Parquet writer), and as ``changes``, one
``Change`` per item, for the others. A destination answers per item (a list of
``ItemResult``) or for the whole batch at once (a ``BatchResult``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import pyarrow as pa

from syncwright.domain.statuses import EntryStatus, Operation, WriteMode

#: Operations by their value (an enum call per item costs more than the rest of its loop).
_OPERATIONS = {o.value: o for o in Operation}


@dataclass(frozen=True, kw_only=True)
class Change:
    """One item to write: its operation, its key fields and (unless removed) all its fields."""

    operation: Operation
    key: dict[str, Any]
    fields: dict[str, Any] | None = None
    #: The item's reference (e.g. its SKU), known for removed items too.
    reference: str | None = None


@dataclass(frozen=True, kw_only=True)
class Column:
    """A column of the model, with its Arrow type name (e.g. ``int64``, ``string``)."""

    name: str
    type: str


class ChangeBatch:
    """A batch of changes for one destination, in the order they must be applied.

    Give either ``changes`` or ``table`` (with ``operations`` and ``references``, one per
    row); the other form is built from it the first time it is read.

    - ``table``: an Arrow table of the model's columns, one row per change. A removal's row
      has its key columns, the others null.
    - ``operations``: each change's operation (``add``, ``change`` or ``remove``), as Arrow
      strings; ``references``: each change's reference.
    - ``changes``: the same, one ``Change`` per item (``fields`` holds every column of the
      row, none for a removal).
    - ``unchanged`` / ``unchanged_table``: for a destination that takes the whole model each
      run (``wants_full_model``), the model's rows that did not change. Write them along
      with the changes; they are no changes, so they get no result and no entry.
    - ``run_id`` and ``index``: the run this batch belongs to and its number in the run,
      from 0; a destination that stages files can name them by these, so that a replayed
      batch overwrites its own part.
    """

    def __init__(
        self,
        *,
        write_mode: WriteMode,
        primary_key: tuple[str, ...],
        changes: list[Change] | None = None,
        table: pa.Table | None = None,
        operations: pa.Array | None = None,
        references: pa.Array | None = None,
        columns: tuple[Column, ...] = (),
        run_id: str = "",
        index: int = 0,
        unchanged: list[dict[str, Any]] | None = None,
        unchanged_table: pa.Table | None = None,
    ) -> None:
        if (changes is None) == (table is None):
            raise TypeError("a ChangeBatch takes either changes or table")
        if table is not None and (
            operations is None
            or references is None
            or not len(operations) == len(references) == table.num_rows
        ):
            raise TypeError("a ChangeBatch's table takes one operation and reference per row")
        self.write_mode = write_mode
        self.primary_key = tuple(primary_key)
        self.columns = tuple(columns)
        self.run_id = run_id
        self.index = index
        self._columnar = table is not None
        self._changes = changes
        self._table = table
        self._operations = operations
        self._references = references
        self._unchanged = unchanged
        self._unchanged_table = unchanged_table

    def __len__(self) -> int:
        return len(self._changes) if self._changes is not None else self.table.num_rows

    def __repr__(self) -> str:
        return f"ChangeBatch({len(self)} changes, run {self.run_id!r}, batch {self.index})"

    @property
    def columnar(self) -> bool:
        """Given as Arrow (by the engine): ``table`` costs nothing, ``changes`` is built."""
        return self._columnar

    # -- the row view ------------------------------------------------------------------------
    @property
    def changes(self) -> list[Change]:
        if self._changes is None:
            self._changes = _changes_of(
                self.table, self.operations.to_pylist(), self.references.to_pylist(), self
            )
        return self._changes

    @property
    def unchanged(self) -> list[dict[str, Any]]:
        if self._unchanged is None:
            self._unchanged = (
                self._unchanged_table.to_pylist() if self._unchanged_table is not None else []
            )
        return self._unchanged

    # -- the Arrow view ----------------------------------------------------------------------
    @property
    def table(self) -> pa.Table:
        if self._table is None:
            assert self._changes is not None
            rows = [
                change.fields if change.fields is not None else change.key
                for change in self._changes
            ]
            self._table = _table_of(rows, self._schema(rows))
        return self._table

    @property
    def operations(self) -> pa.Array:
        if self._operations is None:
            assert self._changes is not None
            self._operations = pa.array([c.operation.value for c in self._changes], pa.string())
        return self._operations

    @property
    def references(self) -> pa.Array:
        if self._references is None:
            assert self._changes is not None
            self._references = pa.array([c.reference for c in self._changes], pa.string())
        return self._references

    @property
    def unchanged_table(self) -> pa.Table:
        if self._unchanged_table is None:
            rows = self._unchanged or []
            self._unchanged_table = _table_of(rows, self._schema(rows))
        return self._unchanged_table

    def _schema(self, rows: Sequence[Mapping[str, Any]]) -> pa.Schema | None:
        """The model's columns as an Arrow schema (their types as named), or None to infer
        them from the rows when a type is not one Arrow can name."""
        names = [c.name for c in self.columns]
        if not names:
            return None
        try:
            fields = [pa.field(c.name, _arrow_type(c.type)) for c in self.columns]
        except (ValueError, TypeError, KeyError):
            return None
        extra = {k for row in rows for k in row} - set(names)
        return None if extra else pa.schema(fields)


_ZONED = re.compile(r"timestamp\[(s|ms|us|ns), tz=([^\]]+)\]")
_DECIMAL = re.compile(r"decimal(128|256)\((\d+), (-?\d+)\)")


def _arrow_type(name: str) -> pa.DataType:
    """The Arrow type a column's type name names (``int64``, ``timestamp[us, tz=UTC]``,
    ``decimal128(10, 2)``); ValueError for one it cannot tell (a nested type)."""
    zoned = _ZONED.fullmatch(name)
    if zoned:
        return pa.timestamp(zoned[1], tz=zoned[2])
    decimal = _DECIMAL.fullmatch(name)
    if decimal:
        make = pa.decimal128 if decimal[1] == "128" else pa.decimal256
        return make(int(decimal[2]), int(decimal[3]))
    return pa.type_for_alias(name)


def _table_of(rows: Sequence[Mapping[str, Any]], schema: pa.Schema | None) -> pa.Table:
    if schema is not None:
        try:
            return pa.Table.from_pylist(list(rows), schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            pass  # values of another type than the column names: inferred as they are
    return pa.Table.from_pylist(list(rows))


def _changes_of(
    table: pa.Table, operations: list[str], references: list[Any], batch: ChangeBatch
) -> list[Change]:
    rows = table.to_pylist()
    pk = batch.primary_key
    changes = []
    for row, operation, reference in zip(rows, operations, references):
        op = _OPERATIONS[operation]
        key = {k: row.get(k) for k in pk}
        if op is Operation.REMOVE:
            changes.append(Change(operation=op, key=key, reference=reference))
        else:
            changes.append(Change(operation=op, key=key, fields=row, reference=reference))
    return changes


@dataclass(frozen=True, kw_only=True)
class ItemResult:
    """What happened to one change: ok, sent (awaiting confirmation) or failed."""

    status: EntryStatus
    endpoint_id: str | None = None
    error: str | None = None
    retryable: bool = False
    #: Seconds the endpoint asked to wait before trying again (e.g. HTTP ``Retry-After``).
    retry_after: float | None = None
    #: What went to the destination and what came back, for a failure: ``{"request":
    #: {"method", "url", "body"}, "response": {"status", "body"}}`` (bodies as text; the
    #: report keeps the first 4 KiB of each). Never headers: they carry credentials.
    exchange: Mapping[str, Any] | None = None

    @classmethod
    def ok(cls, endpoint_id: str | None = None) -> ItemResult:
        if endpoint_id is None and cls is ItemResult:
            return _OK  # immutable, so one will do for every item
        return cls(status=EntryStatus.OK, endpoint_id=endpoint_id)

    @classmethod
    def sent(cls, endpoint_id: str | None = None) -> ItemResult:
        if endpoint_id is None and cls is ItemResult:
            return _SENT
        return cls(status=EntryStatus.SENT, endpoint_id=endpoint_id)

    @classmethod
    def failed(
        cls,
        error: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        exchange: Mapping[str, Any] | None = None,
    ) -> ItemResult:
        """``retryable``: worth trying again later (timeouts, 5xx, 429), as the sync's retry
        policy decides; otherwise the item fails at once (a rejected value, a 4xx).
        ``exchange``: the request and the answer that failed it, shown on the item's page."""
        return cls(
            status=EntryStatus.FAILED,
            error=error,
            retryable=retryable,
            retry_after=retry_after,
            exchange=exchange,
        )


#: What the report keeps of each body of an exchange (characters).
EXCHANGE_BODY = 4096


def capped_exchange(exchange: Mapping[str, Any], limit: int = EXCHANGE_BODY) -> dict[str, Any]:
    """An exchange as the report keeps it: its request's and answer's bodies as text, cut
    after ``limit`` characters (an ellipsis says so); anything else as given."""
    kept: dict[str, Any] = {}
    for side, values in exchange.items():
        if not isinstance(values, Mapping):
            kept[side] = values
            continue
        kept[side] = dict(values)
        body = values.get("body")
        if body is not None:
            text = body if isinstance(body, str) else json.dumps(body, default=str)
            kept[side]["body"] = text if len(text) <= limit else text[:limit] + "…"
    return kept


_OK = ItemResult(status=EntryStatus.OK)
_SENT = ItemResult(status=EntryStatus.SENT)


@dataclass(frozen=True, kw_only=True)
class BatchResult:
    """What happened to a whole batch, said at once: every change is ``status`` (ok, or sent
    for a destination that confirms later) except the ones in ``exceptions``, by their
    index in the batch (a rejected row, with the destination's reason)."""

    size: int
    status: EntryStatus = EntryStatus.OK
    exceptions: Mapping[int, ItemResult] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in (EntryStatus.OK, EntryStatus.SENT):
            raise ValueError("a batch's status is ok or sent; failures go in exceptions")
        if any(not 0 <= i < self.size for i in self.exceptions):
            raise ValueError(f"an exception's index is outside the batch of {self.size}")

    @classmethod
    def ok(cls, size: int, exceptions: Mapping[int, ItemResult] | None = None) -> BatchResult:
        return cls(size=size, exceptions=dict(exceptions or {}))

    @classmethod
    def sent(cls, size: int, exceptions: Mapping[int, ItemResult] | None = None) -> BatchResult:
        return cls(size=size, status=EntryStatus.SENT, exceptions=dict(exceptions or {}))

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[ItemResult]:
        return iter(self.results())

    def __getitem__(self, index: int) -> ItemResult:
        if not -self.size <= index < self.size:
            raise IndexError(index)
        index %= self.size
        found = self.exceptions.get(index)
        if found is not None:
            return found
        return _OK if self.status is EntryStatus.OK else _SENT

    def results(self) -> list[ItemResult]:
        """One result per change, as ``Destination.write`` may return them."""
        default = _OK if self.status is EntryStatus.OK else _SENT
        results = [default] * self.size
        for index, result in self.exceptions.items():
            results[index] = result
        return results


def results_of(answer: Sequence[ItemResult] | BatchResult) -> list[ItemResult]:
    """A destination's answer as one result per change, whichever form it took."""
    return answer.results() if isinstance(answer, BatchResult) else list(answer)
