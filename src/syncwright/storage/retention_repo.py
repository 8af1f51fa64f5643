"""Purging what the retention no longer keeps, in short transactions that never hold the
report for long: oldest entries first, payloads from a saved watermark on, then runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from syncwright.domain.clock import as_utc, utcnow
from syncwright.domain.retention import Retention
from syncwright.domain.statuses import FINAL_RUN_STATUSES, EntryStatus
from syncwright.storage.scopes import RUN
from syncwright.storage.snapshots_repo import upsert_statement
from syncwright.storage.tables import (
    artifacts,
    entries,
    entry_exchanges,
    item_failures,
    maintenance,
    resync_items,
    run_batches,
    runs,
    scopes,
)

_PAYLOAD_MARK = "payloads_purged_to"


@dataclass(frozen=True)
class Purged:
    entries: int = 0
    payloads: int = 0
    runs_hidden: int = 0
    runs_purged: int = 0


class RetentionRepository:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def purge(self, retention: Retention, now: datetime, *, batch: int = 5000) -> Purged:
        return Purged(
            entries=self._entries(retention.entries_before(now), batch),
            payloads=self._records(retention.payloads_before(now), batch)
            + self._payloads(retention.payloads_before(now), batch),
            runs_hidden=self._hide_runs(retention.entries_before(now), now),
            runs_purged=self._purge_runs(retention.runs_purged_before(now), batch),
        )

    def _head(self, conn: sa.Connection, after: int, batch: int) -> list[tuple[int, datetime]]:
        rows = conn.execute(
            sa.select(entries.c.id, entries.c.created_at)
            .where(entries.c.id > after)
            .order_by(entries.c.id)
            .limit(batch)
        ).all()
        return [(r[0], as_utc(r[1])) for r in rows]  # type: ignore[misc]

    def _entries(self, cutoff: datetime, batch: int) -> int:
        """Delete entries created before ``cutoff``, oldest id first. Ids grow with time, so
        the walk stops at the first entry young enough to keep."""
        deleted = 0
        while True:
            with self.engine.begin() as conn:
                head = self._head(conn, 0, batch)
                old = [i for i, created in head if created < cutoff]
                if old:
                    conn.execute(item_failures.delete().where(item_failures.c.entry_id.in_(old)))
                    conn.execute(
                        entry_exchanges.delete().where(entry_exchanges.c.entry_id.in_(old))
                    )
                    conn.execute(entries.delete().where(entries.c.id.in_(old)))
                    deleted += len(old)
            if len(old) < batch:
                return deleted

    def _records(self, cutoff: datetime, batch: int) -> int:
        """Drop the change set records (the payloads of their entries) of runs that ended
        before ``cutoff`` (a live run's are what it delivers). Returns how many items'
        payloads went."""
        dropped = 0
        after: tuple[str, int] = ("", -1)
        while True:
            with self.engine.begin() as conn:
                old = conn.execute(
                    sa.select(run_batches.c.run_id, run_batches.c.batch, run_batches.c["items"])
                    .join(runs, runs.c.id == run_batches.c.run_id)
                    .where(
                        runs.c.ended_at < cutoff,
                        runs.c.status.in_([s.value for s in FINAL_RUN_STATUSES]),
                        sa.tuple_(run_batches.c.run_id, run_batches.c.batch) > sa.tuple_(*after),
                    )
                    .order_by(run_batches.c.run_id, run_batches.c.batch)
                    .limit(batch)
                ).all()
                for run_id, number, items in old:
                    conn.execute(
                        run_batches.delete().where(
                            run_batches.c.run_id == run_id, run_batches.c.batch == number
                        )
                    )
                    dropped += items
            if len(old) < batch:
                return dropped
            after = (old[-1][0], old[-1][1])

    def _payloads(self, cutoff: datetime, batch: int) -> int:
        """Drop the payloads that entries written before 0013 hold themselves, of entries
        created before ``cutoff`` (but not of items still waiting to be delivered), walking
        ids from where the last pass stopped."""
        cleared = 0
        with self.engine.connect() as conn:
            mark = (
                conn.execute(
                    sa.select(maintenance.c.value).where(maintenance.c.name == _PAYLOAD_MARK)
                ).scalar_one_or_none()
                or 0
            )
        while True:
            with self.engine.begin() as conn:
                head = self._head(conn, mark, batch)
                old = []
                for entry_id, created in head:
                    if created >= cutoff:
                        break
                    old.append(entry_id)
                if old:
                    # What went to the destination and back is a payload too.
                    conn.execute(
                        entry_exchanges.delete().where(entry_exchanges.c.entry_id.in_(old))
                    )
                    cleared += conn.execute(
                        entries.update()
                        .where(
                            entries.c.id.in_(old),
                            entries.c.payload.is_not(None),
                            entries.c.status != EntryStatus.PENDING.value,
                        )
                        .values(payload=None)
                    ).rowcount
                    mark = old[-1]
                    conn.execute(
                        upsert_statement(conn, maintenance, ["name"], ["value", "updated_at"]),
                        {"name": _PAYLOAD_MARK, "value": mark, "updated_at": utcnow()},
                    )
            if len(old) < batch:
                return cleared

    def _hide_runs(self, cutoff: datetime, now: datetime) -> int:
        with self.engine.begin() as conn:
            return conn.execute(
                runs.update()
                .where(
                    runs.c.created_at < cutoff,
                    runs.c.deleted_at.is_(None),
                    runs.c.status.in_([s.value for s in FINAL_RUN_STATUSES]),
                )
                .values(deleted_at=now)
            ).rowcount

    def _purge_runs(self, cutoff: datetime, batch: int) -> int:
        """Delete runs hidden before ``cutoff`` whose entries are all gone."""
        purged = 0
        while True:
            with self.engine.begin() as conn:
                ids = list(
                    conn.execute(
                        sa.select(runs.c.id)
                        .where(
                            runs.c.deleted_at < cutoff,
                            ~sa.exists().where(
                                entries.c.run_no
                                == sa.select(scopes.c.id)
                                .where(scopes.c.kind == RUN, scopes.c.uid == runs.c.id)
                                .correlate(runs)
                                .scalar_subquery()
                            ),
                        )
                        .limit(batch)
                    ).scalars()
                )
                if ids:
                    conn.execute(artifacts.delete().where(artifacts.c.run_id.in_(ids)))
                    conn.execute(resync_items.delete().where(resync_items.c.run_id.in_(ids)))
                    conn.execute(run_batches.delete().where(run_batches.c.run_id.in_(ids)))
                    conn.execute(scopes.delete().where(scopes.c.kind == RUN, scopes.c.uid.in_(ids)))
                    conn.execute(runs.delete().where(runs.c.id.in_(ids)))
                    purged += len(ids)
            if len(ids) < batch:
                return purged
