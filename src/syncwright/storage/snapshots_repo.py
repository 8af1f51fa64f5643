"""The snapshot of what each sync delivered successfully, and the saved cursor."""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from syncwright.domain.clock import utcnow
from syncwright.storage.tables import snapshots, sync_states

SNAPSHOT_SCHEMA = pa.schema(
    [("item_key", pa.string()), ("reference", pa.string()), ("row_hash", pa.string())]
)
_CHUNK = 2000


def upsert_statement(
    conn: sa.Connection, table: sa.Table, keys: list[str], updates: list[str]
) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET updates, for SQLite and PostgreSQL."""
    insert: Any = (
        postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
    )
    return insert.on_conflict_do_update(
        index_elements=keys, set_={name: insert.excluded[name] for name in updates}
    )


class SnapshotRepository:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def count(self, sync_id: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(snapshots)
                    .where(snapshots.c.sync_id == sync_id)
                ).scalar_one()
            )

    def batches(self, sync_id: str, size: int = 50_000) -> Iterator[pa.RecordBatch]:
        """Stream the snapshot as Arrow batches of (item_key, reference, row_hash)."""
        query = sa.select(snapshots.c.item_key, snapshots.c.reference, snapshots.c.row_hash).where(
            snapshots.c.sync_id == sync_id
        )
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=size).execute(query)
            for part in result.partitions(size):
                keys, refs, hashes = zip(*part)
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array(keys, pa.string()),
                        pa.array(refs, pa.string()),
                        pa.array(hashes, pa.string()),
                    ],
                    schema=SNAPSHOT_SCHEMA,
                )

    def upsert(
        self, conn: sa.Connection, sync_id: str, rows: Iterable[tuple[str, str, str]]
    ) -> None:
        """Record (item_key, reference, row_hash) as delivered."""
        values = [
            {"sync_id": sync_id, "item_key": k, "reference": r, "row_hash": h} for k, r, h in rows
        ]
        if not values:
            return
        stmt = upsert_statement(conn, snapshots, ["sync_id", "item_key"], ["row_hash", "reference"])
        for start in range(0, len(values), _CHUNK):
            conn.execute(stmt, values[start : start + _CHUNK])

    def delete(self, conn: sa.Connection, sync_id: str, item_keys: Iterable[str]) -> None:
        keys = list(item_keys)
        for start in range(0, len(keys), _CHUNK):
            conn.execute(
                snapshots.delete().where(
                    snapshots.c.sync_id == sync_id,
                    snapshots.c.item_key.in_(keys[start : start + _CHUNK]),
                )
            )

    # -- cursor ---------------------------------------------------------------------------
    def cursor(self, sync_id: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(sync_states.c.cursor).where(sync_states.c.sync_id == sync_id)
            ).scalar_one_or_none()

    def save_cursor(self, conn: sa.Connection, sync_id: str, value: Any) -> None:
        conn.execute(
            upsert_statement(conn, sync_states, ["sync_id"], ["cursor", "updated_at"]),
            {"sync_id": sync_id, "cursor": value, "updated_at": utcnow()},
        )
