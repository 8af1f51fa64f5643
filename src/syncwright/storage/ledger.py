"""A run's ledger, as the engine sees it: its change set, the entries of its items, the
snapshot of what the sync delivered and the run's counters and progress. Each operation is
one transaction of its own (or several short ones, said so), so the engine never holds the
store across repositories.

    prepared  = commit_change_set(...)         # the change set, the snapshot's skipped
                                               #   items, the move to in_progress
    record    = batch(i) -> deliver -> prepare_entries(...) -> record(...) -> progress(...)
    finish    = leave_pending(...) ; save_cursor(...)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import pyarrow as pa
import sqlalchemy as sa

from syncwright.domain.counters import Counters
from syncwright.domain.statuses import EntryStatus, RunStatus
from syncwright.sdk.changes import ItemResult
from syncwright.storage.changesets_repo import ChangeSetRepository
from syncwright.storage.entries_repo import Earlier, EntryRepository
from syncwright.storage.entry_rows import PendingItems, PreparedEntries
from syncwright.storage.runs_repo import RunRepository
from syncwright.storage.snapshots_repo import PartInfo, SnapshotRepository


@dataclass(frozen=True)
class ChangeSet:
    """What ``commit_change_set`` stored: the items to deliver, in how many batches; none
    when the run was cancelled meanwhile (nothing is then moved on)."""

    total: int
    batches: int
    cancelled: bool = False
    #: The parts of the snapshot's new base, when the log was folded.
    folded: list[PartInfo] | None = None


class RunLedger:
    def __init__(
        self,
        engine: sa.Engine,
        runs: RunRepository,
        entries: EntryRepository,
        changesets: ChangeSetRepository,
        snapshots: SnapshotRepository,
    ) -> None:
        self.engine = engine
        self.runs = runs
        self.entries = entries
        self.changesets = changesets
        self.snapshots = snapshots

    # -- prepare --------------------------------------------------------------------------
    def commit_change_set(
        self,
        run_id: str,
        sync_id: str,
        batches: Iterable[pa.RecordBatch],
        size: int,
        *,
        fold: Iterable[pa.RecordBatch] | None,
        folds_through: int = 0,
        skipped: pa.Table,
        counters: Callable[[int], Counters],
        infos: Callable[[int, int], dict[str, Any]],
    ) -> ChangeSet:
        """In one transaction: store the change set in records of ``size`` items, fold the
        snapshot's log into a base of ``fold`` (when given: the snapshot as read up to part
        ``folds_through``, and no part came since), add the snapshot part of the
        ``skipped`` items (the write mode does not deliver them), and move the run on
        (``in_progress``, or ``preparing`` with nothing to deliver) with the counters
        ``counters`` gives for the number of items, and the ``infos`` given for the numbers
        of items and of records. A process stopping at any point leaves the run either
        prepared or not at all."""
        with self.engine.begin() as conn:
            total, records = self.changesets.save(conn, run_id, batches, size)
            folded = (
                self.snapshots.fold(conn, sync_id, fold, through=folds_through)
                if fold is not None
                else None
            )
            self.snapshots.append(conn, sync_id, skipped)
            if self.runs.get(run_id, conn).status.is_final:
                return ChangeSet(total, records, cancelled=True, folded=folded)
            self.runs.transition(
                run_id,
                RunStatus.IN_PROGRESS if records else RunStatus.PREPARING,
                counters=counters(total),
                infos=infos(total, records),
                conn=conn,
            )
        return ChangeSet(total, records, folded=folded)

    def note(self, run_id: str, infos: dict[str, Any]) -> None:
        """Add ``infos`` to the run's (its own transaction)."""
        with self.engine.begin() as conn:
            self.runs.update_infos(conn, run_id, infos)

    # -- deliver --------------------------------------------------------------------------
    def batch(self, run_id: str, index: int) -> pa.Table | None:
        """The change set record of batch ``index``, if the run has it."""
        return self.changesets.load(run_id, index)

    def earlier(self, run_id: str, first_seq: int, last_seq: int) -> dict[int, Earlier]:
        return self.entries.earlier(run_id, first_seq, last_seq)

    def prepare_entries(
        self,
        run_id: str,
        items: PendingItems,
        results: Sequence[ItemResult],
        *,
        base: dict[str, Any],
    ) -> PreparedEntries:
        """A batch's entries laid out beforehand (no transaction; see ``record``)."""
        return self.entries.prepare(run_id, items, results, base=base)

    def record(
        self,
        run_id: str,
        sync_id: str,
        items: PendingItems,
        results: Sequence[ItemResult],
        *,
        base: dict[str, Any],
        retry_failed: bool,
        prepared: PreparedEntries | None,
        snapshot_base: bool,
    ) -> dict[str, int]:
        """A batch's outcomes: its entries, the snapshot's part of it and the run's counters,
        in one transaction that skips what an earlier attempt recorded (see
        ``EntryRepository.record``)."""
        return self.entries.record(
            run_id,
            sync_id,
            items,
            results,
            base=base,
            retry_failed=retry_failed,
            prepared=prepared,
            snapshot_base=snapshot_base,
        )

    def progress(self, run_id: str, batches_done: int, retries: int) -> Counters:
        """Say how far the run has got, from its counters, and count the deliveries that
        retried an item; one transaction. Returns the counters."""
        with self.engine.begin() as conn:
            counters = self.runs.get(run_id, conn).counters
            done = counters.ok + counters.sent + counters.failed
            self.runs.update_infos(
                conn,
                run_id,
                {
                    "progress": {
                        "done": done,
                        "total": done + counters.pending,
                        "batches_done": batches_done,
                    }
                },
            )
            self.runs.add_retries(conn, run_id, retries)
        return counters

    def keep_in_doubt(self, run_id: str, sync_id: str, index: int) -> int:
        """Batch ``index`` may be at the destination unrecorded (see
        ``EntryRepository.keep_in_doubt``)."""
        return self.entries.keep_in_doubt(run_id, sync_id, self.changesets.load(run_id, index))

    # -- finish ---------------------------------------------------------------------------
    def leave_pending(self, run_id: str) -> int:
        """Items never given an outcome become pending entries; the change set keeps its
        items only."""
        return self.entries.leave_pending(run_id, self.changesets)

    def settled(self, run_id: str) -> None:
        """A run cancelled while delivering has nothing more coming: its page stops waiting
        for the batch that was out."""
        with self.engine.begin() as conn:
            self.runs.add_outcomes(conn, run_id)  # the run's row first, as a recording does
            if self.runs.get(run_id, conn).infos.get("settling"):
                self.runs.update_infos(conn, run_id, {"settling": False})

    def settle_sent(
        self, run_id: str, sync_id: str, *, error: str | None = None, retry_failed: bool = True
    ) -> int:
        """Sent entries become ok (or failed, with ``error``), in short transactions."""
        return self.entries.settle_sent(run_id, sync_id, error=error, retry_failed=retry_failed)

    def failed_payloads(self, run_id: str) -> list[str]:
        """The payloads of the run's failed items (while the retention keeps them)."""
        return self.entries.payloads_with_status(run_id, EntryStatus.FAILED, self.changesets)

    def save_cursor(self, sync_id: str, value: Any) -> None:
        with self.engine.begin() as conn:
            self.snapshots.save_cursor(conn, sync_id, value)

    def count_by_status(self, run_id: str) -> dict[str, int]:
        return self.entries.count_by_status(run_id)

    def new_failures(self, run_id: str) -> int:
        return self.entries.new_failures(run_id)

    def first_error(self, run_id: str) -> str | None:
        return self.entries.first_error(run_id)
