"""A run's change set, stored batch by batch while the run lives."""

from __future__ import annotations

from typing import Iterable, Iterator

import pyarrow as pa
import sqlalchemy as sa

from syncwright.storage.arrow_blobs import pack, rebatch, unpack
from syncwright.storage.tables import run_batches


class ChangeSetRepository:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def save(
        self, conn: sa.Connection, run_id: str, batches: Iterable[pa.RecordBatch], size: int
    ) -> int:
        """Store the change set as records of ``size`` items (replacing an earlier attempt's);
        returns how many items it holds."""
        conn.execute(run_batches.delete().where(run_batches.c.run_id == run_id))
        total = 0
        for index, table in enumerate(rebatch(batches, size)):
            conn.execute(
                run_batches.insert().values(
                    run_id=run_id, batch=index, items=table.num_rows, data=pack(table)
                )
            )
            total += table.num_rows
        return total

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
