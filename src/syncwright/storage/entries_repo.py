"""Entries of the sync report: each item's outcome in a run, written once it has one."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from syncwright.domain.clock import utcnow
from syncwright.domain.reasons import error_group
from syncwright.domain.statuses import EntryStatus, Operation, RunStatus
from syncwright.sdk.changes import ItemResult
from syncwright.storage.bulk import insert_rows
from syncwright.storage.changesets_repo import ChangeSetRepository, items_of
from syncwright.storage.entry_rows import (
    ENTRY_COLUMNS,
    PendingItems,
    PreparedEntries,
    entry_rows,
    snapshot_part,
    taken,
)
from syncwright.storage.exchanges_repo import keep_exchanges
from syncwright.storage.runs_repo import RunRepository
from syncwright.storage.scopes import RUN, SYNC, WORKSPACE, Scopes, number
from syncwright.storage.snapshots_repo import (
    SnapshotRepository,
    part,
    upsert_statement,
)
from syncwright.storage.tables import (
    destinations,
    entries,
    item_failures,
    resync_items,
    runs,
    syncs,
)

_CHUNK = 500
#: Entries still waiting for an outcome, which a recording of their batch gives them.
_NO_OUTCOME = frozenset({EntryStatus.PENDING, EntryStatus.NOT_SENT})
#: Item columns the entry rows do not copy: the payload stays in the change set record.
_NOT_KEPT = {"payload": None}
_LINK_BATCH = 50_000
LINK_SCHEMA = pa.schema(
    [("item_key", pa.string()), ("reference", pa.string()), ("entry_id", pa.int64())]
)


@dataclass(frozen=True)
class Earlier:
    """An entry an earlier attempt of a batch recorded."""

    id: int
    status: EntryStatus
    attempts: int


class EntryRepository:
    def __init__(
        self,
        engine: sa.Engine,
        runs: RunRepository,
        snapshots: SnapshotRepository,
        scopes: Scopes | None = None,
    ) -> None:
        self.engine = engine
        self.runs = runs
        self.snapshots = snapshots
        self.scopes = scopes or Scopes(engine)

    def _fixed(self, run_id: str, base: dict[str, Any]) -> dict[str, Any]:
        """The columns every entry of a recording shares: ``base`` (the sync, workspace and
        system; perhaps the change set record) with the run, as their numbers. Call it
        outside a transaction that writes: a number not given yet is given in a transaction
        of its own."""
        fixed = {k: v for k, v in base.items() if k not in ("sync_id", "workspace_id")}
        fixed.update(
            self.scopes.numbers(
                {RUN: run_id, SYNC: base["sync_id"], WORKSPACE: base["workspace_id"]}
            )
        )
        return fixed

    def add_pending(
        self,
        conn: sa.Connection,
        run_id: str,
        chunks: Iterable[pa.RecordBatch | pa.Table | Sequence[dict[str, Any]]],
        *,
        base: dict[str, Any],
        status: EntryStatus = EntryStatus.PENDING,
    ) -> int:
        """Record items of a run as entries with no attempt: ``pending`` (the next run sends
        them), or ``not_sent`` (their run was cancelled). Chunks are Arrow batches (or
        lists of dicts) of entry columns; ``base`` holds the columns all share."""
        now = utcnow()
        fixed = {
            **self._fixed(run_id, base),
            "status": status.value,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        total = 0
        for chunk in chunks:
            if isinstance(chunk, (pa.RecordBatch, pa.Table)):
                names = [n for n in chunk.schema.names if n not in fixed | _NOT_KEPT]
                columns = [chunk.column(n).to_pylist() for n in names]
                size = chunk.num_rows
            else:
                names = [n for n in (chunk[0] if chunk else {}) if n not in fixed | _NOT_KEPT]
                columns = [[row.get(n) for row in chunk] for n in names]
                size = len(chunk)
            if not size:
                continue
            insert_rows(conn, entries, names, zip(*columns), fixed)
            total += size
        return total

    def leave_pending(self, run_id: str, changesets: ChangeSetRepository) -> int:
        """When a run ends: record the items of its change set that never got an outcome as
        pending, or as not sent when the run was cancelled (aborted: its counters move
        them from pending to not sent), and let the change set go. Safe to repeat, and
        against a batch still being recorded (both take the run's row first; a batch
        recorded after gives its items their outcome). The change set records then keep
        the items only (the payloads the report shows)."""
        with self.engine.connect() as conn:
            base = self._base(conn, run_id)
            missing = changesets.size(conn, run_id) > self._count(conn, run_id)
        if missing:  # numbered before the transaction below takes the store (only recordings
            self._fixed(run_id, base)  # of this run add entries meanwhile: none go missing)
        with self.engine.begin() as conn:
            self.runs.add_outcomes(conn, run_id)
            cancelled = self.runs.get(run_id, conn).status is RunStatus.ABORTED
            status = EntryStatus.NOT_SENT if cancelled else EntryStatus.PENDING
            left = 0
            if changesets.size(conn, run_id) > self._count(conn, run_id):
                for index, record in changesets.tables(conn, run_id):
                    table = items_of(record)
                    if not table.num_rows:
                        continue
                    seqs = table.column("seq").to_pylist()
                    known = self._earlier(conn, run_id, min(seqs), max(seqs))
                    if len(known) == len(seqs):
                        continue
                    missing = pa.array([s not in known for s in seqs], pa.bool_())
                    left += self.add_pending(
                        conn,
                        run_id,
                        [table.filter(missing).select(ENTRY_COLUMNS)],
                        base={**base, "batch": index},
                        status=status,
                    )
            if cancelled and left:
                self.runs.add_outcomes(conn, run_id, pending=-left, not_sent=left)
            changesets.keep_items_only(conn, run_id)
            return left

    def keep_in_doubt(self, run_id: str, sync_id: str, batch: pa.Table | None) -> int:
        """A batch whose delivery failed to be recorded (the store refused the write): the
        destination may hold its items. Those without an entry enter the snapshot with an
        unknown hash, so the next run sends them again as additions if the model still has
        them, and removes them if it no longer does. Removals in doubt need nothing: the
        snapshot still names them, so the next run removes them again."""
        batch = None if batch is None else items_of(batch)
        if batch is None or not batch.num_rows:
            return 0
        with self.engine.begin() as conn:
            seqs = batch.column("seq").to_pylist()
            known = self._earlier(conn, run_id, min(seqs), max(seqs))
            items = [
                (key, reference)
                for seq, key, reference, operation in zip(
                    seqs,
                    batch.column("item_key").to_pylist(),
                    batch.column("reference").to_pylist(),
                    batch.column("operation").to_pylist(),
                )
                if seq not in known and operation != Operation.REMOVE.value
            ]
            if items:
                keys, references = zip(*items)
                self.snapshots.append(
                    conn,
                    sync_id,
                    part(list(keys), list(references), [None] * len(keys), [False] * len(keys)),
                )
            return len(items)

    def _count(self, conn: sa.Connection, run_id: str) -> int:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(entries)
                .where(entries.c.run_no == number(RUN, run_id))
            ).scalar_one()
        )

    def _base(self, conn: sa.Connection, run_id: str) -> dict[str, Any]:
        """The columns every entry of the run shares."""
        row = conn.execute(
            sa.select(runs.c.sync_id, runs.c.workspace_id, destinations.c.name)
            .join(syncs, syncs.c.id == runs.c.sync_id)
            .join(destinations, destinations.c.id == syncs.c.destination_id)
            .where(runs.c.id == run_id)
        ).one()
        return {"sync_id": row[0], "workspace_id": row[1], "system": row[2]}

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

    def earlier(self, run_id: str, first_seq: int, last_seq: int) -> dict[int, Earlier]:
        """Entries already recorded for items ``first_seq``..``last_seq`` of the run."""
        with self.engine.connect() as conn:
            return self._earlier(conn, run_id, first_seq, last_seq)

    def _earlier(
        self, conn: sa.Connection, run_id: str, first_seq: int, last_seq: int
    ) -> dict[int, Earlier]:
        rows = conn.execute(
            sa.select(entries.c.seq, entries.c.id, entries.c.status, entries.c.attempts).where(
                entries.c.run_no == number(RUN, run_id),
                # every status, so the (run_id, status, seq) index is read as ranges
                entries.c.status.in_([s.value for s in EntryStatus]),
                entries.c.seq.between(first_seq, last_seq),
            )
        )
        return {
            seq: Earlier(id, EntryStatus(status), attempts) for seq, id, status, attempts in rows
        }

    def record(
        self,
        run_id: str,
        sync_id: str,
        items: PendingItems,
        results: Sequence[ItemResult],
        *,
        base: dict[str, Any],
        retry_failed: bool = True,
        prepared: PreparedEntries | None = None,
        snapshot_base: bool = False,
    ) -> dict[str, int]:
        """Record each item's result as its entry, advance the snapshot for confirmed items and
        count them, all in one transaction that first takes the run's row: a replayed batch
        never records or counts twice. A ``pending`` result is an item to try again: its
        attempt and error are recorded and it stays pending. Failed items are remembered so
        the next run sends them again and links to them; with ``retry_failed`` off they count
        as handled and travel again only when they change. Returns the count of each status
        recorded (all zero when the batch was recorded already). ``prepared``: the same
        entries laid out by ``prepare`` beforehand, used when none of them is recorded yet.
        ``snapshot_base``: the run began with an empty snapshot, so its delivered items
        (each recorded once) make the snapshot's base."""
        tally = {s.value: 0 for s in EntryStatus}
        size = len(items)
        if not size:
            return tally
        now = prepared.now if prepared is not None else utcnow()
        fixed = {**self._fixed(run_id, base), "created_at": now, "updated_at": now}
        table = items.table
        seq_column = table.column("seq")
        statuses = prepared.statuses if prepared is not None else [r.status.value for r in results]
        with self.engine.begin() as conn:
            self.runs.add_outcomes(conn, run_id)  # the run's row first: one recorder at a time
            # A late recording of a run that ended (cancelled while this batch was out) may
            # come after the next run began: its part is a newer one, not the base's.
            current = self.runs.get(run_id, conn)
            snapshot_base = snapshot_base and not current.status.is_final
            if current.status.is_final and current.infos.get("settling"):
                # The batch that was out when the run was cancelled: once it is in, the run's
                # counters are final.
                self.runs.update_infos(conn, run_id, {"settling": False})
            known = self._earlier(
                conn, run_id, pc.min(seq_column).as_py(), pc.max(seq_column).as_py()
            )
            new: list[int] = []
            updates: list[tuple[int, int]] = []
            #: Items a cancel recorded as not sent that this late batch delivered.
            unsent = 0
            fresh = not known and prepared is not None
            if fresh:
                assert prepared is not None
                tally.update(prepared.tally)
                prepared.insert.execute(conn)
            else:
                seqs = table.column("seq").to_pylist()
                for index, seq in enumerate(seqs):
                    earlier = known.get(seq)
                    if earlier is None:
                        new.append(index)
                    elif earlier.status in _NO_OUTCOME:
                        updates.append((index, earlier.id))
                        if earlier.status is EntryStatus.NOT_SENT:
                            unsent += 1
                    # else: recorded by an attempt that did not get to say so
            counted = new if not updates else sorted(new + [i for i, _ in updates])
            if not fresh:
                tally.update(Counter(statuses[i] for i in counted))
            if new:
                entry_rows(
                    self.engine.dialect, table, items.attempts, results, statuses, new, fixed
                ).execute(conn)
            if updates:
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
                    [
                        {
                            "entry_id": entry_id,
                            "new_status": statuses[i],
                            "new_error": results[i].error,
                            "new_group": error_group(results[i].error),
                            "new_endpoint_id": results[i].endpoint_id,
                        }
                        for i, entry_id in updates
                    ],
                )
            ok, failed = EntryStatus.OK.value, EntryStatus.FAILED.value
            if fresh:
                assert prepared is not None
                confirmed, failures = prepared.confirmed, prepared.failures
            else:
                confirmed = [i for i in counted if statuses[i] == ok]
                failures = [i for i in counted if statuses[i] == failed]
            delivered = confirmed if retry_failed else sorted(confirmed + failures)
            if delivered:
                self.snapshots.append(
                    conn,
                    sync_id,
                    snapshot_part(taken(table, delivered, size)),
                    base=snapshot_base,
                )
            self._track_failures(
                conn,
                run_id,
                sync_id,
                taken(table.column("item_key"), confirmed, size),
                [seq_column[i].as_py() for i in failures],
            )
            told = [(seq_column[i].as_py(), results[i].exchange) for i in failures]
            keep_exchanges(conn, run_id, [(s, e) for s, e in told if e])
            done = tally["ok"] + tally["sent"] + tally["failed"]
            self.runs.add_outcomes(
                conn,
                run_id,
                ok=tally["ok"],
                sent=tally["sent"],
                failed=tally["failed"],
                # Items recorded not sent leave that count; those now waiting for a
                # retry join the pending ones.
                pending=unsent - done,
                not_sent=-unsent,
            )
        return tally

    def prepare(
        self,
        run_id: str,
        items: PendingItems,
        results: Sequence[ItemResult],
        *,
        base: dict[str, Any],
    ) -> PreparedEntries:
        """The entries of a batch laid out for the store, as new ones, with the counts and
        the items' places by status: most of the Python work of ``record``, done beforehand
        (by the delivering thread, while the recorder writes the previous batch)."""
        if not len(items):
            raise ValueError("no items to lay out")
        now = utcnow()
        statuses = [r.status.value for r in results]
        fixed = {**self._fixed(run_id, base), "created_at": now, "updated_at": now}
        every = list(range(len(items)))
        ok, failed = EntryStatus.OK.value, EntryStatus.FAILED.value
        return PreparedEntries(
            now=now,
            statuses=statuses,
            tally=dict(Counter(statuses)),
            confirmed=[i for i, s in enumerate(statuses) if s == ok],
            failures=[i for i, s in enumerate(statuses) if s == failed],
            insert=entry_rows(
                self.engine.dialect, items.table, items.attempts, results, statuses, every, fixed
            ),
        )

    def _track_failures(
        self,
        conn: sa.Connection,
        run_id: str,
        sync_id: str,
        confirmed_keys: Sequence[str] | pa.Array | pa.ChunkedArray,
        failed_seqs: Sequence[int],
    ) -> None:
        """Keep the sync's open failures current: confirmed items leave it, failed ones enter
        it with their entry (the next run links to it). The confirmed keys (an Arrow array
        from a recording) become Python values only when the sync has open failures."""
        if (
            len(confirmed_keys)
            and conn.execute(
                sa.select(item_failures.c.item_key)
                .where(item_failures.c.sync_id == sync_id)
                .limit(1)
            ).first()
        ):
            listed = (
                confirmed_keys.to_pylist()
                if isinstance(confirmed_keys, (pa.Array, pa.ChunkedArray))
                else list(confirmed_keys)
            )
            for keys in _chunked(listed):
                conn.execute(
                    item_failures.delete().where(
                        item_failures.c.sync_id == sync_id, item_failures.c.item_key.in_(keys)
                    )
                )
        for seqs in _chunked(failed_seqs):
            insert = upsert_statement(conn, item_failures, ["sync_id", "item_key"], ["entry_id"])
            conn.execute(
                insert.from_select(
                    ["sync_id", "item_key", "entry_id"],
                    sa.select(sa.literal(sync_id), entries.c.item_key, entries.c.id).where(
                        entries.c.run_no == number(RUN, run_id),
                        entries.c.status == EntryStatus.FAILED.value,
                        entries.c.seq.in_(seqs),
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
                rows = conn.execute(
                    sa.select(
                        entries.c.id,
                        entries.c.seq,
                        entries.c.item_key,
                        entries.c.reference,
                        entries.c.row_hash,
                        entries.c.operation,
                    )
                    .where(
                        entries.c.run_no == number(RUN, run_id),
                        entries.c.status == EntryStatus.SENT.value,
                    )
                    .order_by(entries.c.seq)
                    .limit(chunk)
                ).all()
                if not rows:
                    return changed
                for part_ in _chunked([r.id for r in rows]):
                    conn.execute(
                        entries.update()
                        .where(entries.c.id.in_(part_))
                        .values(
                            status=status.value,
                            error=error,
                            error_group=error_group(error),
                            updated_at=utcnow(),
                        )
                    )
                delivered = part(
                    [r.item_key for r in rows],
                    [r.reference for r in rows],
                    [r.row_hash for r in rows],
                    [r.operation == Operation.REMOVE.value for r in rows],
                )
                if status is EntryStatus.OK:
                    self.snapshots.append(conn, sync_id, delivered)
                    self._track_failures(conn, run_id, sync_id, [r.item_key for r in rows], [])
                    self.runs.add_outcomes(conn, run_id, ok=len(rows), sent=-len(rows))
                else:
                    if not retry_failed:
                        self.snapshots.append(conn, sync_id, delivered)
                    self._track_failures(conn, run_id, sync_id, [], [r.seq for r in rows])
                    self.runs.add_outcomes(conn, run_id, failed=len(rows), sent=-len(rows))
                changed += len(rows)

    def count_by_status(self, run_id: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(entries.c.status, sa.func.count())
                .where(entries.c.run_no == number(RUN, run_id))
                .group_by(entries.c.status)
            )
            return {status: int(n) for status, n in rows}

    def new_failures(self, run_id: str) -> int:
        """The run's failed entries that are not a retry of an item already failing before the
        run (an entry with no ``retry_of``, or one retrying an entry that had not failed)."""
        before = entries.alias("before")
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(entries)
                    .outerjoin(before, before.c.id == entries.c.retry_of)
                    .where(
                        entries.c.run_no == number(RUN, run_id),
                        entries.c.status == EntryStatus.FAILED.value,
                        sa.or_(
                            before.c.id.is_(None),
                            before.c.status != EntryStatus.FAILED.value,
                        ),
                    )
                ).scalar_one()
            )

    def first_error(self, run_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(entries.c.error)
                .where(entries.c.run_no == number(RUN, run_id), entries.c.error.is_not(None))
                .order_by(entries.c.seq)
                .limit(1)
            ).scalar_one_or_none()

    def payloads_with_status(
        self, run_id: str, status: EntryStatus, changesets: ChangeSetRepository
    ) -> list[str]:
        """The payloads of the run's entries with ``status`` (those the retention keeps)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(entries.c.batch, entries.c.seq, entries.c.payload).where(
                    entries.c.run_no == number(RUN, run_id), entries.c.status == status.value
                )
            ).all()
            found = changesets.payloads(
                conn, run_id, [(b, seq) for b, seq, p in rows if p is None and b is not None]
            )
        return [
            p if p is not None else found[(b, seq)]
            for b, seq, p in rows
            if p is not None or (b, seq) in found
        ]


def _chunked(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]
