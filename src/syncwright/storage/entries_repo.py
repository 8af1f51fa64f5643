"""Entries of the sync report: the pending change set of a run and each item's outcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import pyarrow as pa
import sqlalchemy as sa

from syncwright.domain.clock import utcnow
from syncwright.domain.reasons import error_group
from syncwright.domain.statuses import EntryStatus, Operation
from syncwright.sdk.changes import ItemResult
from syncwright.storage.bulk import insert_rows
from syncwright.storage.runs_repo import RunRepository
from syncwright.storage.snapshots_repo import upsert_statement
from syncwright.storage.tables import entries, item_failures, resync_items, snapshots

_CHUNK = 500
_LINK_BATCH = 50_000
LINK_SCHEMA = pa.schema(
    [("item_key", pa.string()), ("reference", pa.string()), ("entry_id", pa.int64())]
)

#: What delivering or settling an item needs to know of its entry.
_ITEM_COLUMNS = (
    entries.c.id,
    entries.c.seq,
    entries.c.item_key,
    entries.c.reference,
    entries.c.operation,
    entries.c.row_hash,
    entries.c.payload,
    entries.c.attempts,
)


@dataclass(frozen=True, kw_only=True)
class PendingItem:
    """A change waiting in the report to be delivered."""

    id: int
    seq: int
    item_key: str
    reference: str
    operation: Operation
    row_hash: str | None
    payload: str | None
    attempts: int


class EntryRepository:
    def __init__(self, engine: sa.Engine, runs: RunRepository) -> None:
        self.engine = engine
        self.runs = runs

    def replace_pending(
        self,
        conn: sa.Connection,
        run_id: str,
        chunks: Iterable[pa.RecordBatch | Sequence[dict[str, Any]]],
        *,
        base: dict[str, Any],
    ) -> int:
        """Record a run's change set as pending entries (replacing any earlier attempt of it).
        Chunks are Arrow batches (or lists of dicts) of entry columns."""
        conn.execute(entries.delete().where(entries.c.run_id == run_id))
        now = utcnow()
        fixed = {
            **base,
            "run_id": run_id,
            "status": EntryStatus.PENDING.value,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        constants = tuple(fixed.values())
        total = 0
        for chunk in chunks:
            if isinstance(chunk, pa.RecordBatch):
                names = [n for n in chunk.schema.names if n not in fixed]
                columns = [chunk.column(n).to_pylist() for n in names]
                size = chunk.num_rows
            else:
                names = [n for n in (chunk[0] if chunk else {}) if n not in fixed]
                columns = [[row.get(n) for row in chunk] for n in names]
                size = len(chunk)
            if not size:
                continue
            insert_rows(
                conn,
                entries,
                [*names, *fixed],
                (values + constants for values in zip(*columns)),
            )
            total += size
        return total

    def links(
        self, *, sync_id: str | None = None, run_id: str | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Earlier entries the next changes link to, as Arrow batches of (item_key, reference,
        entry_id): the sync's open failures, or the entries a resync run selected."""
        if run_id is not None:
            query = (
                sa.select(resync_items.c.item_key, entries.c.reference, resync_items.c.entry_id)
                .join(entries, entries.c.id == resync_items.c.entry_id)
                .where(resync_items.c.run_id == run_id)
            )
        else:
            query = (
                sa.select(item_failures.c.item_key, entries.c.reference, item_failures.c.entry_id)
                .join(entries, entries.c.id == item_failures.c.entry_id)
                .where(item_failures.c.sync_id == sync_id)
            )
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=_LINK_BATCH).execute(
                query
            )
            for part in result.partitions(_LINK_BATCH):
                keys, refs, ids = zip(*part)
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array(keys, pa.string()),
                        pa.array(refs, pa.string()),
                        pa.array(ids, pa.int64()),
                    ],
                    schema=LINK_SCHEMA,
                )

    def pending(self, run_id: str, first_seq: int, last_seq: int) -> list[PendingItem]:
        query = (
            sa.select(*_ITEM_COLUMNS)
            .where(
                entries.c.run_id == run_id,
                entries.c.seq.between(first_seq, last_seq),
                entries.c.status == EntryStatus.PENDING.value,
            )
            .order_by(entries.c.seq)
        )
        with self.engine.connect() as conn:
            return [
                PendingItem(**{**dict(r), "operation": Operation(r["operation"])})
                for r in conn.execute(query).mappings()
            ]

    def record(
        self,
        run_id: str,
        sync_id: str,
        outcomes: Sequence[tuple[PendingItem, ItemResult]],
        *,
        retry_failed: bool = True,
    ) -> dict[str, int]:
        """Record each item's result, advance the snapshot for confirmed items and count them,
        all in one transaction, so a replayed batch never counts twice. A ``pending`` result
        is an item to try again: its attempt and error are recorded and it stays pending.
        Failed items are remembered so the next run sends them again and links to them; with
        ``retry_failed`` off they count as handled and travel again only when they change."""
        now = utcnow()
        tally = {s.value: 0 for s in EntryStatus}
        plain_ok: list[int] = []
        detailed: list[dict[str, Any]] = []
        confirmed: list[PendingItem] = []
        failed: list[PendingItem] = []
        for item, result in outcomes:
            tally[result.status.value] += 1
            if result.status is EntryStatus.OK and result.endpoint_id is None:
                plain_ok.append(item.id)
            else:
                detailed.append(
                    {
                        "entry_id": item.id,
                        "new_status": result.status.value,
                        "new_error": result.error,
                        "new_group": error_group(result.error),
                        "new_endpoint_id": result.endpoint_id,
                    }
                )
            if result.status is EntryStatus.OK:
                confirmed.append(item)
            elif result.status is EntryStatus.FAILED:
                failed.append(item)
        with self.engine.begin() as conn:
            for chunk in _chunked(plain_ok):
                conn.execute(
                    entries.update()
                    .where(entries.c.id.in_(chunk))
                    .values(
                        status=EntryStatus.OK.value,
                        attempts=entries.c.attempts + 1,
                        error=None,
                        error_group=None,
                        updated_at=now,
                    )
                )
            if detailed:
                conn.execute(
                    entries.update()
                    .where(entries.c.id == sa.bindparam("entry_id"))
                    .values(
                        status=sa.bindparam("new_status"),
                        error=sa.bindparam("new_error"),
                        error_group=sa.bindparam("new_group"),
                        endpoint_id=sa.bindparam("new_endpoint_id"),
                        attempts=entries.c.attempts + 1,
                        updated_at=now,
                    ),
                    detailed,
                )
            self._settle(
                conn,
                sync_id,
                [i.id for i in confirmed],
                [i.id for i in failed],
                retry_failed=retry_failed,
            )
            done = tally["ok"] + tally["sent"] + tally["failed"]
            self.runs.add_outcomes(
                conn,
                run_id,
                ok=tally["ok"],
                sent=tally["sent"],
                failed=tally["failed"],
                pending=-done,
            )
        return tally

    def _settle(
        self,
        conn: sa.Connection,
        sync_id: str,
        confirmed: Sequence[int],
        failed: Sequence[int],
        *,
        retry_failed: bool,
    ) -> None:
        """Advance the snapshot past confirmed entries (and failed ones the next run should not
        send again), and keep the open failures of the sync current. Set-based: the entries
        already hold every value needed, so rows never travel through Python."""
        advanced = [*confirmed, *([] if retry_failed else failed)]
        for ids in _chunked(advanced):
            self._advance_snapshot(conn, sync_id, ids)
        for ids in _chunked(confirmed):
            conn.execute(
                item_failures.delete().where(
                    item_failures.c.sync_id == sync_id,
                    item_failures.c.item_key.in_(
                        sa.select(entries.c.item_key).where(entries.c.id.in_(ids))
                    ),
                )
            )
        for ids in _chunked(failed):
            insert = upsert_statement(conn, item_failures, ["sync_id", "item_key"], ["entry_id"])
            conn.execute(
                insert.from_select(
                    ["sync_id", "item_key", "entry_id"],
                    sa.select(sa.literal(sync_id), entries.c.item_key, entries.c.id).where(
                        entries.c.id.in_(ids)
                    ),
                )
            )

    def _advance_snapshot(self, conn: sa.Connection, sync_id: str, ids: Sequence[int]) -> None:
        """The snapshot follows what the destination confirmed: delivered rows are recorded,
        removed rows forgotten, so anything not confirmed goes again next run."""
        insert = upsert_statement(
            conn, snapshots, ["sync_id", "item_key"], ["row_hash", "reference"]
        )
        conn.execute(
            insert.from_select(
                ["sync_id", "item_key", "reference", "row_hash"],
                sa.select(
                    sa.literal(sync_id),
                    entries.c.item_key,
                    entries.c.reference,
                    sa.func.coalesce(entries.c.row_hash, ""),
                ).where(entries.c.id.in_(ids), entries.c.operation != Operation.REMOVE.value),
            )
        )
        conn.execute(
            snapshots.delete().where(
                snapshots.c.sync_id == sync_id,
                snapshots.c.item_key.in_(
                    sa.select(entries.c.item_key).where(
                        entries.c.id.in_(ids), entries.c.operation == Operation.REMOVE.value
                    )
                ),
            )
        )

    def settle_sent(
        self,
        run_id: str,
        sync_id: str,
        *,
        error: str | None = None,
        retry_failed: bool = True,
        chunk: int = 5000,
    ) -> int:
        """Turn the run's ``sent`` entries into ``ok`` (confirmed; the snapshot advances) or,
        with an error, into ``failed``. Returns how many entries changed."""
        status = EntryStatus.FAILED if error else EntryStatus.OK
        changed = 0
        while True:
            with self.engine.begin() as conn:
                ids = list(
                    conn.execute(
                        sa.select(entries.c.id)
                        .where(
                            entries.c.run_id == run_id,
                            entries.c.status == EntryStatus.SENT.value,
                        )
                        .order_by(entries.c.seq)
                        .limit(chunk)
                    ).scalars()
                )
                if not ids:
                    return changed
                for part in _chunked(ids):
                    conn.execute(
                        entries.update()
                        .where(entries.c.id.in_(part))
                        .values(
                            status=status.value,
                            error=error,
                            error_group=error_group(error),
                            updated_at=utcnow(),
                        )
                    )
                if status is EntryStatus.OK:
                    self._settle(conn, sync_id, ids, [], retry_failed=retry_failed)
                    self.runs.add_outcomes(conn, run_id, ok=len(ids), sent=-len(ids))
                else:
                    self._settle(conn, sync_id, [], ids, retry_failed=retry_failed)
                    self.runs.add_outcomes(conn, run_id, failed=len(ids), sent=-len(ids))
                changed += len(ids)

    def count_by_status(self, run_id: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(entries.c.status, sa.func.count())
                .where(entries.c.run_id == run_id)
                .group_by(entries.c.status)
            )
            return {status: int(n) for status, n in rows}

    def first_error(self, run_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(entries.c.error)
                .where(entries.c.run_id == run_id, entries.c.error.is_not(None))
                .order_by(entries.c.seq)
                .limit(1)
            ).scalar_one_or_none()

    def payloads_with_status(self, run_id: str, status: EntryStatus) -> list[str]:
        with self.engine.connect() as conn:
            return [
                p
                for p in conn.execute(
                    sa.select(entries.c.payload).where(
                        entries.c.run_id == run_id, entries.c.status == status.value
                    )
                ).scalars()
                if p is not None
            ]


def _chunked(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]
