"""The snapshot of what each sync delivered successfully, and the saved cursor.

A snapshot is a log of compressed Arrow parts per sync: a base, then one part per delivered
batch (items delivered or removed). Reading it is a few blob reads whatever the number of
items; the run that reads it folds the log into a new base when it has grown. A base may be
several parts, each item in one of them: written by a fold, or by the batches of a run that
began with an empty snapshot (a first load), whose items each appear once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Generator, Iterable, Iterator, Sequence

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from syncwright.domain.clock import utcnow
from syncwright.storage.arrow_blobs import pack, rebatch, unpack
from syncwright.storage.tables import snapshot_parts, snapshots, sync_states

#: A part of the log: what each item was delivered as, or that it was removed.
PART_SCHEMA = pa.schema(
    [
        ("item_key", pa.string()),
        ("reference", pa.string()),
        ("row_hash", pa.string()),
        ("removed", pa.bool_()),
    ]
)
#: Items per base part (a base is written in several parts to bound memory).
BASE_PART = 250_000


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


def part(
    item_keys: Sequence[str],
    references: Sequence[str],
    hashes: Sequence[str | None],
    removed: Sequence[bool],
) -> pa.Table:
    return pa.Table.from_arrays(
        [
            pa.array(item_keys, pa.string()),
            pa.array(references, pa.string()),
            pa.array([h or "" for h in hashes], pa.string()),
            pa.array(removed, pa.bool_()),
        ],
        schema=PART_SCHEMA,
    )


@dataclass(frozen=True)
class PartInfo:
    """A part of the log as the store describes it, without its data."""

    id: int
    base: bool
    items: int
    #: Random, given as the part was written (None on parts written before 0014).
    token: str | None = None


#: Fold the log once its parts since the base hold this share of the base's items, or once
#: there are this many of them (each run's batches add parts; folding costs a base rewrite).
FOLD_SHARE = 0.2
FOLD_PARTS = 200


class SnapshotLog:
    """The parts of one sync's snapshot, as read: Arrow batches with the part's number (or
    only the parts' numbers and sizes, for a log described without reading it)."""

    def __init__(
        self,
        batches: list[tuple[int, pa.Table]],
        *,
        folded: bool,
        base_items: int = 0,
        base_parts: int | None = None,
        sizes: list[tuple[int, int]] | None = None,
    ) -> None:
        self.parts = batches
        #: (number, items) of each part, oldest first.
        self.sizes = sizes if sizes is not None else [(n, t.num_rows) for n, t in batches]
        #: True when the log is one base only (no item appears twice, none is removed).
        self.folded = folded
        self.base_items = base_items
        #: How many of the first parts are the base (each item in one of them; a first
        #: load's resync may name an item as removed there); the newer parts name items
        #: again, or remove them.
        self.base_parts = len(self.sizes) if folded else (base_parts or 0)

    @classmethod
    def described(cls, infos: Sequence[PartInfo]) -> SnapshotLog:
        """The log as its parts' descriptions give it, none of them read."""
        base_parts = 0
        while base_parts < len(infos) and infos[base_parts].base:
            base_parts += 1
        return cls(
            [],
            folded=base_parts == len(infos),
            base_items=sum(p.items for p in infos[:base_parts]),
            base_parts=base_parts,
            sizes=[(p.id, p.items) for p in infos],
        )

    @property
    def empty(self) -> bool:
        """Nothing was delivered yet: a run now is a first load."""
        return not self.sizes

    @property
    def last_part(self) -> int:
        """The number of the newest part (0 for none)."""
        return max((number for number, _ in self.sizes), default=0)

    @property
    def worth_folding(self) -> bool:
        """Whether the run that read the log should rewrite it as one base."""
        # Many small parts, base or not (a first load in small batches), cost a blob read
        # each; a fold writes full parts, which do not count.
        small = sum(1 for _, items in self.sizes if items < BASE_PART)
        if self.folded:
            return small > FOLD_PARTS
        added = sum(items for _, items in self.sizes[self.base_parts :])
        return small > FOLD_PARTS or added > FOLD_SHARE * self.base_items

    def base(self) -> Iterator[pa.RecordBatch]:
        """The base's items (item_key, reference, row_hash, removed)."""
        for _, table in self.parts[: self.base_parts]:
            yield from table.to_batches()

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The parts newer than the base, each row with its part's number."""
        for number, table in self.parts[self.base_parts :]:
            numbered = table.append_column(
                "part", pa.repeat(pa.scalar(number, pa.int64()), table.num_rows)
            )
            yield from numbered.to_batches()


class SnapshotRepository:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def read(self, sync_id: str) -> SnapshotLog:
        """The sync's snapshot log, oldest part first (rows of a pre-0005 store first)."""
        found: list[tuple[int, pa.Table]] = []
        with self.engine.connect() as conn:
            legacy = self._legacy(conn, sync_id)
            if legacy is not None:
                found.append((0, legacy))
            rows = conn.execute(
                sa.select(snapshot_parts.c.id, snapshot_parts.c.base, snapshot_parts.c.data)
                .where(snapshot_parts.c.sync_id == sync_id)
                .order_by(snapshot_parts.c.id)
            )
            bases = legacy is None
            base_parts = base_items = 0
            for number, base, data in rows:
                bases = bases and bool(base)
                found.append((int(number), unpack(data)))
                if bases:
                    base_parts += 1
                    base_items += found[-1][1].num_rows
        return SnapshotLog(
            found,
            folded=bases,
            base_items=base_items,
            base_parts=base_parts,
        )

    def describe(self, sync_id: str) -> tuple[list[PartInfo], bool]:
        """The sync's parts, oldest first, without their data; and whether the store still
        has rows of the snapshot from before 0005 (read only by ``read``)."""
        with self.engine.connect() as conn:
            legacy = conn.execute(
                sa.select(snapshots.c.item_key).where(snapshots.c.sync_id == sync_id).limit(1)
            ).first()
            rows = conn.execute(
                sa.select(
                    snapshot_parts.c.id,
                    snapshot_parts.c.base,
                    snapshot_parts.c["items"],
                    snapshot_parts.c.token,
                )
                .where(snapshot_parts.c.sync_id == sync_id)
                .order_by(snapshot_parts.c.id)
            ).fetchall()
        return [PartInfo(int(i), bool(b), int(n), t) for i, b, n, t in rows], legacy is not None

    def read_parts(
        self, sync_id: str, ids: Sequence[int]
    ) -> Generator[tuple[int, pa.Table], None, None]:
        """The data of the sync's parts ``ids`` (the given ones still in the log), oldest
        first, one at a time (streamed from the database)."""
        if not ids:
            return
        with self.engine.connect() as conn:
            rows = conn.execution_options(stream_results=True, yield_per=1).execute(
                sa.select(snapshot_parts.c.id, snapshot_parts.c.data)
                .where(snapshot_parts.c.sync_id == sync_id, snapshot_parts.c.id >= min(ids))
                .order_by(snapshot_parts.c.id)
            )
            wanted = set(ids)
            for number, data in rows:
                if number in wanted:
                    yield int(number), unpack(data)

    def _legacy(self, conn: sa.Connection, sync_id: str) -> pa.Table | None:
        query = sa.select(snapshots.c.item_key, snapshots.c.reference, snapshots.c.row_hash).where(
            snapshots.c.sync_id == sync_id
        )
        rows = conn.execute(query).fetchall()
        if not rows:
            return None
        keys, refs, hashes = (list(c) for c in zip(*rows))
        return part(keys, refs, hashes, [False] * len(keys))

    def count(self, sync_id: str) -> int:
        """How many items the snapshot holds (reads the log)."""
        latest: dict[str, bool] = {}
        for _, table in self.read(sync_id).parts:
            for key, removed in zip(
                table.column("item_key").to_pylist(), table.column("removed").to_pylist()
            ):
                latest[key] = removed
        return sum(1 for removed in latest.values() if not removed)

    def append(
        self, conn: sa.Connection, sync_id: str, delta: pa.Table, *, base: bool = False
    ) -> None:
        """Add a part: items delivered (with their hash) or removed, in the caller's
        transaction. ``base``: a part of the base (items delivered, none named before,
        by the base's parts or any other part)."""
        if delta.num_rows:
            conn.execute(
                snapshot_parts.insert().values(
                    sync_id=sync_id,
                    base=base,
                    items=delta.num_rows,
                    data=pack(delta),
                    token=uuid.uuid4().hex,
                )
            )

    def fold(
        self, conn: sa.Connection, sync_id: str, items: Iterable[pa.RecordBatch], *, through: int
    ) -> list[PartInfo] | None:
        """Replace the whole log with a base of ``items`` (item_key, reference, row_hash),
        the snapshot as read up to part ``through``: the parts of the new base. Not when a
        part came after it (a late recording): the base would be older than that part, and
        the next run folds (None)."""
        newest = conn.execute(
            sa.select(sa.func.max(snapshot_parts.c.id)).where(snapshot_parts.c.sync_id == sync_id)
        ).scalar_one_or_none()
        if (newest or 0) != through:
            return None
        written: list[PartInfo] = []
        conn.execute(snapshot_parts.delete().where(snapshot_parts.c.sync_id == sync_id))
        conn.execute(snapshots.delete().where(snapshots.c.sync_id == sync_id))
        for table in rebatch(items, BASE_PART):
            base = pa.Table.from_arrays(
                [
                    table.column("item_key").cast(pa.string()),
                    table.column("reference").cast(pa.string()),
                    table.column("row_hash").cast(pa.string()),
                    pa.repeat(pa.scalar(False), table.num_rows),
                ],
                schema=PART_SCHEMA,
            )
            token = uuid.uuid4().hex
            number = conn.execute(
                snapshot_parts.insert()
                .values(
                    sync_id=sync_id, base=True, items=base.num_rows, data=pack(base), token=token
                )
                .returning(snapshot_parts.c.id)
            ).scalar_one()
            written.append(PartInfo(int(number), True, base.num_rows, token))
        return written

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
