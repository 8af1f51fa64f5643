"""Planned runs: every trigger that is not a person becomes a run with status ``scheduled``
and the time it is due, visible before it starts. A tick, in every engine process, queues the
runs that are due; a compare-and-set on the status makes exactly one process win each.

- a schedule keeps one planned run per sync, always the next tick;
- an edit of a sync or its model with ``on_change`` plans (or pushes back) one run
  ``debounce`` seconds later, so a burst of edits makes one run;
- a run that ends as another sync's ``after`` asks plans one run of that sync now.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Callable

import sqlalchemy as sa

from syncwright.domain.errors import IllegalTransition, NotFound
from syncwright.domain.run import Run
from syncwright.domain.statuses import RunMode, RunStatus, Trigger
from syncwright.domain.sync import SyncSpec
from syncwright.domain.triggers import Missed, WhenBusy
from syncwright.storage.store import Store

#: A planned run more than this late was missed (no engine ran when it was due).
MISSED_AFTER = timedelta(seconds=60)

Submit = Callable[[Run], None]


class Scheduler:
    def __init__(self, store: Store, submit: Submit | None = None) -> None:
        self.store = store
        self.submit = submit

    # -- planning -------------------------------------------------------------------------
    def plan(
        self, sync: SyncSpec, trigger: Trigger, at: datetime, *, push_back: bool = False
    ) -> Run:
        """Plan a run of ``sync`` for ``trigger`` at ``at``. An existing planned run for the
        same trigger is kept (earliest time wins), or moved to ``at`` with ``push_back``."""
        with self.store.engine.begin() as conn:
            found = self.store.runs.planned(conn, sync.id, trigger)
            if found is not None:
                current = found.scheduled_for
                if push_back or current is None or at < current:
                    self.store.runs.reschedule(conn, found.id, at)
                return self.store.runs.get(found.id, conn)
            try:
                with conn.begin_nested():
                    return self.store.runs.create(
                        workspace_id=sync.workspace_id,
                        sync_id=sync.id,
                        type=sync.type,
                        trigger=trigger,
                        mode=RunMode.INCREMENTAL,
                        status=RunStatus.SCHEDULED,
                        scheduled_for=at,
                        conn=conn,
                    )
            except sa.exc.IntegrityError:  # another process planned it first
                found = self.store.runs.planned(conn, sync.id, trigger)
                if found is None:
                    raise
                return found

    def plan_schedules(self, now: datetime) -> int:
        """Give every enabled sync with a schedule its next planned run; drop planned
        schedule runs of syncs that lost their schedule or were disabled."""
        planned = 0
        for workspace in self.store.config.workspace_ids():
            for sync in self.store.config.list_syncs(workspace):
                with self.store.engine.connect() as conn:
                    existing = self.store.runs.planned(conn, sync.id, Trigger.SCHEDULE)
                schedule = sync.triggers.schedule
                if schedule is None or not sync.enabled:
                    if existing is not None:
                        self._drop(existing, "the sync has no schedule or is disabled")
                    continue
                if existing is None:
                    self.plan(sync, Trigger.SCHEDULE, schedule.next_after(now, sync.id))
                    planned += 1
        return planned

    def drop_planned(self, sync: SyncSpec, trigger: Trigger, reason: str) -> None:
        """Forget a planned run (its trigger changed); the next planning makes a new one."""
        with self.store.engine.connect() as conn:
            existing = self.store.runs.planned(conn, sync.id, trigger)
        if existing is not None:
            self._drop(existing, reason)

    def plan_after(self, run: Run) -> list[Run]:
        """The syncs that run after ``run``'s sync when a run ends as this one did."""
        if not run.status.is_final:
            return []
        upstream = self.store.config.sync(run.sync_id)
        planned = []
        for sync in self.store.config.list_syncs(run.workspace_id):
            t = sync.triggers
            if upstream.name in t.after and run.status.value in t.after_statuses and sync.enabled:
                planned.append(self.plan(sync, Trigger.AFTER, _now(run)))
        return planned

    def plan_change(self, sync: SyncSpec, now: datetime) -> Run | None:
        if not (sync.triggers.on_change and sync.enabled):
            return None
        return self.plan(
            sync, Trigger.CHANGE, now + timedelta(seconds=sync.triggers.debounce), push_back=True
        )

    # -- ticking ----------------------------------------------------------------------------
    def tick(self, now: datetime) -> list[Run]:
        """Queue every planned run that is due (or record it skipped), and plan the next tick
        of schedules. Returns the runs this call moved."""
        moved = []
        for run in self.store.runs.due(now):
            try:
                sync = self.store.config.sync(run.sync_id)
            except NotFound:
                continue
            late = run.scheduled_for is not None and now - run.scheduled_for > MISSED_AFTER
            reason = None
            if not sync.enabled:
                reason = "the sync is disabled"
            elif late and run.trigger is Trigger.SCHEDULE and sync.triggers.missed is Missed.SKIP:
                reason = f"missed: no engine ran at {run.scheduled_for:%Y-%m-%d %H:%M:%S} UTC"
            elif sync.triggers.when_busy is WhenBusy.SKIP and self.store.runs.live(sync.id):
                reason = "another run of the sync was live"
            try:
                if reason:
                    moved.append(self._skip(run, reason))
                else:
                    queued = self.store.runs.transition(
                        run.id,
                        RunStatus.QUEUED,
                        infos={"planned_for": _iso(run.scheduled_for)},
                        expected=RunStatus.SCHEDULED,
                    )
                    if self.submit is not None:
                        self.submit(queued)
                    moved.append(queued)
            except IllegalTransition:
                continue  # another engine took it
            if run.trigger is Trigger.SCHEDULE and sync.triggers.schedule and sync.enabled:
                # After downtime the next planned run is the next tick from now: missed ticks
                # run once, not once each.
                self.plan(sync, Trigger.SCHEDULE, sync.triggers.schedule.next_after(now, sync.id))
        return moved

    def _skip(self, run: Run, reason: str) -> Run:
        return self.store.runs.transition(
            run.id,
            RunStatus.SKIPPED,
            infos={"reason": reason},
            ended=True,
            expected=RunStatus.SCHEDULED,
        )

    def _drop(self, run: Run, reason: str) -> None:
        with contextlib.suppress(IllegalTransition):
            self.store.runs.transition(
                run.id, RunStatus.ABORTED, infos={"reason": reason}, ended=True
            )


def _now(run: Run) -> datetime:
    return run.ended_at or run.updated_at


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
