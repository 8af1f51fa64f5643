"""What one batch of a run is on its way to the destination: the items of its change set
record still to deliver (``pending``), and the ``ChangeBatch`` the destination receives
(``batch_for``), typed by one cast of the payloads or, where the cast would change a value,
decoded row by row."""

from __future__ import annotations

import logging
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from syncwright.domain.statuses import EntryStatus, Operation
from syncwright.engine.codec import Codec
from syncwright.engine.runtime import Delivery, Runtime
from syncwright.sdk.changes import Change, ChangeBatch
from syncwright.storage.changesets_repo import UNCHANGED
from syncwright.storage.entry_rows import PendingItems

logger = logging.getLogger("syncwright.engine")

#: Operations by their value (an enum lookup per item costs more than the rest of its loop).
_OPERATIONS = {o.value: o for o in Operation}


def pending(
    rt: Runtime, run_id: str, table: pa.Table
) -> tuple[PendingItems, pa.Table | None] | None:
    """The items of a change set record still to deliver, and the unchanged rows it carries
    (for a destination taking the whole model); None when there is nothing to deliver. An
    item an earlier attempt left pending keeps its entry and attempts; one it recorded is
    not delivered again, unless the record carries unchanged rows: the destination then
    writes the record whole (it replaces its part of the file), and recording skips it."""
    operations = table.column("operation")
    carried = pc.equal(operations, UNCHANGED)
    unchanged = table.filter(carried) if pc.any(carried).as_py() else None
    rows = table.filter(pc.invert(carried)) if unchanged is not None else table
    seqs = table.column("seq")
    earlier = rt.store.ledger.earlier(run_id, pc.min(seqs).as_py(), pc.max(seqs).as_py())
    if not earlier:
        if not rows.num_rows and unchanged is None:
            return None
        return PendingItems.fresh(rows), unchanged
    attempts: list[int] = []
    keep: list[bool] = []
    recorded = 0
    for seq in rows.column("seq").to_pylist():
        found = earlier.get(seq)
        if found is not None and found.status is not EntryStatus.PENDING:
            recorded += 1
            if unchanged is None:
                keep.append(False)
                continue
        keep.append(True)
        pending = found is not None and found.status is EntryStatus.PENDING
        attempts.append(found.attempts if pending and found else 0)
    if recorded == rows.num_rows and (recorded or unchanged is None):
        return None
    if not all(keep):
        rows = rows.filter(pa.array(keep, pa.bool_()))
    return PendingItems(table=rows, attempts=attempts), unchanged


def batch_for(
    plan: Delivery, items: pa.Table, unchanged: pa.Table | None, run_id: str, index: int
) -> ChangeBatch:
    """The batch the destination receives: its changes typed as the model's columns, in one
    cast of their payloads (or one JSON parse of them all, for a run prepared before the
    change set's types were kept)."""
    common: dict[str, Any] = {
        "write_mode": plan.sync.write_mode,
        "primary_key": plan.model.primary_key,
        "columns": plan.columns,
        "run_id": run_id,
        "index": index,
    }
    payloads = pc.fill_null(items.column("payload"), "{}")
    if plan.rows.columnar:
        try:
            table = plan.rows.table(payloads)
            if _keys_hold(plan, items, table):
                return ChangeBatch(
                    table=table,
                    operations=items.column("operation").combine_chunks(),
                    references=items.column("reference").combine_chunks(),
                    unchanged_table=None
                    if unchanged is None
                    else plan.rows.table(pc.fill_null(unchanged.column("payload"), "{}")),
                    **common,
                )
        except duckdb.Error as exc:  # values its column's type cannot hold: each as it is
            logger.warning("batch %d of run %s decoded row by row: %s", index, run_id, exc)
    codec = plan.rows.codec
    return ChangeBatch(
        changes=_changes(items, payloads.to_pylist(), codec, plan.model.primary_key),
        unchanged=[]
        if unchanged is None
        else codec.decode_many(pc.fill_null(unchanged.column("payload"), "{}").to_pylist()),
        **common,
    )


def _keys_hold(plan: Delivery, items: pa.Table, table: pa.Table) -> bool:
    """Whether the batch's removals keep their keys through the cast: their keys come from
    the snapshot of an earlier run, whose key columns may have had other types (a key 1.5
    cast to a whole number would remove another row). Otherwise the batch goes row by row,
    each key as it was recorded."""
    removals = pc.indices_nonzero(pc.equal(items.column("operation"), Operation.REMOVE.value))
    if not len(removals):
        return True
    key = list(plan.model.primary_key)
    codec = plan.rows.codec
    recorded = [codec.decode(k) for k in items.column("item_key").take(removals).to_pylist()]
    cast = [
        [(type(v), v) for v in row.values()] for row in table.take(removals).select(key).to_pylist()
    ]
    # Of the same types too: True == 1 in Python, not in a key.
    return cast == [[(type(r.get(k)), r.get(k)) for k in key] for r in recorded]


def _changes(
    items: pa.Table, payloads: list[str], codec: Codec, primary_key: tuple[str, ...]
) -> list[Change]:
    """The items as the destination takes them, their payloads decoded all at once."""
    operations = [_OPERATIONS[o] for o in items.column("operation").to_pylist()]
    decoded = iter(
        codec.decode_many([p for p, o in zip(payloads, operations) if o is not Operation.REMOVE])
    )
    changes = []
    for operation, key, reference in zip(
        operations, items.column("item_key").to_pylist(), items.column("reference").to_pylist()
    ):
        if operation is Operation.REMOVE:
            changes.append(Change(operation=operation, key=codec.decode(key), reference=reference))
            continue
        fields = next(decoded)
        if all(k in fields for k in primary_key):  # the key is in the fields: no second decode
            found = {k: fields[k] for k in primary_key}
        else:
            found = codec.decode(key)
        changes.append(Change(operation=operation, key=found, fields=fields, reference=reference))
    return changes
