"""A run's change set, stored batch by batch while the run lives."""

from __future__ import annotations

from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from syncwright.storage.arrow_blobs import pack, rebatch, unpack
from syncwright.storage.tables import run_batches

#: The operation of a change set row that is no change: an unchanged row carried to a
#: destination that takes the whole model each run. It is written, never made an entry.
UNCHANGED = "unchanged"


def items_of(table: pa.Table) -> pa.Table:
    """The rows of a change set record that are items (to become entries): all but the
    unchanged rows carried along."""
    return table.filter(pc.not_equal(table.column("operation"), UNCHANGED))


class ChangeSetRepository:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def save(
        self, conn: sa.Connection, run_id: str, batches: Iterable[pa.RecordBatch], size: int
    ) -> tuple[int, int]:
        """Store the change set as records of ``size`` rows (replacing an earlier attempt's);
        returns how many items it holds (unchanged rows carried along are not items) and in
        how many records."""
        conn.execute(run_batches.delete().where(run_batches.c.run_id == run_id))
        total = records = 0
        for index, table in enumerate(rebatch(batches, size)):
            items = items_of(table).num_rows
            conn.execute(
                run_batches.insert().values(
                    run_id=run_id, batch=index, items=items, data=pack(table)
                )
            )
            total += items
            records += 1
        return total, records

    def load(self, run_id: str, index: int) -> pa.Table | None:
        with self.engine.connect() as conn:
            data = conn.execute(
                sa.select(run_batches.c.data).where(
                    run_batches.c.run_id == run_id, run_batches.c.batch == index
                )
            ).scalar_one_or_none()
        return None if data is None else unpack(data)

    def size(self, conn: sa.Connection, run_id: str) -> int:
        return int(
            conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(run_batches.c["items"]), 0)).where(
                    run_batches.c.run_id == run_id
                )
            ).scalar_one()
        )

    def tables(self, conn: sa.Connection, run_id: str) -> Iterator[pa.Table]:
        """Every batch of the run in order, read one at a time."""
        numbers = conn.execute(
            sa.select(run_batches.c.batch)
            .where(run_batches.c.run_id == run_id)
            .order_by(run_batches.c.batch)
        ).scalars()
        for number in list(numbers):
            data = conn.execute(
                sa.select(run_batches.c.data).where(
                    run_batches.c.run_id == run_id, run_batches.c.batch == number
                )
            ).scalar_one()
            yield unpack(data)

    def drop(self, conn: sa.Connection, run_id: str) -> None:
        conn.execute(run_batches.delete().where(run_batches.c.run_id == run_id))
