"""A run's change set, stored batch by batch: what the run delivers, then, once it has ended,
the items as they were sent (the payloads the report shows) until the retention drops them."""

from __future__ import annotations

from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from syncwright.storage.arrow_blobs import pack_chunked, rebatch, rows_at, unpack
from syncwright.storage.tables import run_batches

#: The operation of a change set row that is no change: an unchanged row carried to a
#: destination that takes the whole model each run. It is written, never made an entry.
UNCHANGED = "unchanged"

#: Rows per compressed chunk of a record: reading one item's payload decompresses its chunk.
_CHUNK = 1000


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
                    run_id=run_id,
                    batch=index,
                    items=items,
                    rows=table.num_rows,
                    first_seq=table.column("seq")[0].as_py() if table.num_rows else None,
                    data=pack_chunked(table, _CHUNK),
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

    def tables(self, conn: sa.Connection, run_id: str) -> Iterator[tuple[int, pa.Table]]:
        """Every batch of the run in order with its number, read one at a time."""
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
            yield number, unpack(data)

    def keep_items_only(self, conn: sa.Connection, run_id: str) -> None:
        """The run has ended: its records keep their items (the payloads of its entries), not
        the unchanged rows carried along for a destination that takes the whole model."""
        carrying = conn.execute(
            sa.select(run_batches.c.batch, run_batches.c.data).where(
                run_batches.c.run_id == run_id,
                sa.or_(run_batches.c.rows.is_(None), run_batches.c.rows > run_batches.c["items"]),
            )
        ).all()
        for number, data in carrying:
            table = items_of(unpack(data))
            if not table.num_rows:
                conn.execute(
                    run_batches.delete().where(
                        run_batches.c.run_id == run_id, run_batches.c.batch == number
                    )
                )
                continue
            conn.execute(
                run_batches.update()
                .where(run_batches.c.run_id == run_id, run_batches.c.batch == number)
                .values(
                    rows=table.num_rows,
                    first_seq=table.column("seq")[0].as_py(),
                    data=pack_chunked(table, _CHUNK),
                )
            )

    def payloads(
        self, conn: sa.Connection, run_id: str, places: Iterable[tuple[int, int]]
    ) -> dict[tuple[int, int], str]:
        """The payloads of the run's items at ``places`` (record number, sequence number)
        that the records still hold; each record is read once, and only its chunks that
        hold them."""
        by_record: dict[int, list[int]] = {}
        for number, seq in places:
            by_record.setdefault(number, []).append(seq)
        found: dict[tuple[int, int], str] = {}
        for number, seqs in by_record.items():
            row = conn.execute(
                sa.select(run_batches.c.first_seq, run_batches.c.data).where(
                    run_batches.c.run_id == run_id, run_batches.c.batch == number
                )
            ).first()
            if row is None or row.first_seq is None:
                continue
            rows = rows_at(row.data, [seq - row.first_seq for seq in seqs])
            for seq in seqs:
                item = rows.get(seq - row.first_seq)
                if item is not None and item["seq"] == seq and item["payload"] is not None:
                    found[(number, seq)] = str(item["payload"])
        return found
