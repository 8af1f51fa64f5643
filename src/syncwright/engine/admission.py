"""Admission: which waiting runs get capacity now. Runs wait (status ``queued``) until
admitted, in order of priority (people before automation) then age; a run is admitted when
its sync has no other admitted live run, the global cap and its destination's cap allow.
Admitted runs go to the engine's queue. Admission is serialised across processes (a
PostgreSQL advisory lock; SQLite has one writer), so caps hold on many workers."""

from __future__ import annotations

from collections import Counter
from typing import Callable

import sqlalchemy as sa

from syncwright.domain.clock import utcnow
from syncwright.domain.run import Run
from syncwright.storage.store import Store

_LOCK = 0x5359_4E43  # "SYNC"


class Admission:
    def __init__(
        self,
        store: Store,
        enqueue: Callable[[Run], None],
        *,
        max_runs: int | None = None,
        only: set[str] | None = None,
    ) -> None:
        self.store = store
        self.enqueue = enqueue
        self.max_runs = max_runs
        #: Admit only these runs (a one-off process admits the runs it started, no other).
        self.only = only

    def admit(self) -> list[Run]:
        admitted: list[str] = []
        with self.store.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
            live = self.store.runs.admitted_live(conn)
            total = len(live)
            busy_syncs = {r["sync_id"] for r in live}
            per_destination = Counter(r["destination_id"] for r in live)
            caps: dict[str, int | None] = {}
            now = utcnow()
            for run in self.store.runs.waiting(conn):
                if self.only is not None and run["id"] not in self.only:
                    continue
                if self.max_runs is not None and total >= self.max_runs:
                    break
                if run["sync_id"] in busy_syncs:
                    continue
                destination = run["destination_id"]
                if destination not in caps:
                    caps[destination] = self.store.config.destination(destination).max_runs
                cap = caps[destination]
                if cap is not None and per_destination[destination] >= cap:
                    continue
                if self.store.runs.admit(conn, run["id"], now):
                    admitted.append(run["id"])
                    total += 1
                    busy_syncs.add(run["sync_id"])
                    per_destination[destination] += 1
        runs = [self.store.runs.get(run_id) for run_id in admitted]
        for started in runs:
            self.enqueue(started)
        return runs
