"""Runs: creating them, moving them through their statuses, reading them back."""

from __future__ import annotations

import builtins
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from syncwright.domain.clock import utcnow
from syncwright.domain.counters import COUNTER_NAMES, Counters
from syncwright.domain.errors import ConfigError, IllegalTransition, NotFound
from syncwright.domain.run import RUN_SORTS, Run, RunFilter
from syncwright.domain.statuses import (
    LIVE_RUN_STATUSES,
    NOT_RUN,
    RunMode,
    RunStatus,
    Trigger,
    check_transition,
)
from syncwright.domain.triggers import PRIORITY
from syncwright.storage.tables import runs, syncs

#: Another name for the runs table, for subqueries over it.
latest = runs.alias("latest")

_RUN_WITH_SYNC = sa.select(runs, syncs.c.name.label("sync_name")).join(
    syncs, syncs.c.id == runs.c.sync_id
)


#: Runs that ran: not planned for later, not skipped, not cancelled before they started.
_RAN = (
    runs.c.status.notin_([s.value for s in NOT_RUN]),
    sa.or_(runs.c.status != RunStatus.ABORTED.value, runs.c.started_at.is_not(None)),
)


class RunRepository:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create(
        self,
        *,
        workspace_id: str,
        sync_id: str,
        type: str,
        trigger: Trigger,
        mode: RunMode,
        created_by_user_id: str | None = None,
        status: RunStatus = RunStatus.QUEUED,
        scheduled_for: datetime | None = None,
        infos: dict[str, Any] | None = None,
        conn: sa.Connection | None = None,
    ) -> Run:
        now = utcnow()
        run_id = str(uuid.uuid4())
        values = dict(
            id=run_id,
            workspace_id=workspace_id,
            sync_id=sync_id,
            type=type,
            trigger=trigger.value,
            mode=mode.value,
            status=status.value,
            infos={**(infos or {}), "stage": status.value},
            created_at=now,
            updated_at=now,
            ended_at=now if status.is_final else None,
            created_by_user_id=created_by_user_id,
            scheduled_for=scheduled_for,
            priority=PRIORITY[trigger],
            ran_at=scheduled_for or now,
        )
        if conn is not None:
            conn.execute(runs.insert().values(**values))
        else:
            with self.engine.begin() as own:
                own.execute(runs.insert().values(**values))
        return self.get(run_id, conn)

    def planned(self, conn: sa.Connection, sync_id: str, trigger: Trigger) -> Run | None:
        """The sync's planned run for this trigger, if any (there is at most one)."""
        row = (
            conn.execute(
                _RUN_WITH_SYNC.where(
                    runs.c.sync_id == sync_id,
                    runs.c.trigger == trigger.value,
                    runs.c.status == RunStatus.SCHEDULED.value,
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else Run.from_row(row)

    def reschedule(self, conn: sa.Connection, run_id: str, at: datetime) -> None:
        conn.execute(
            runs.update()
            .where(runs.c.id == run_id, runs.c.status == RunStatus.SCHEDULED.value)
            .values(scheduled_for=at, ran_at=at, updated_at=utcnow())
        )

    def due(self, now: datetime, limit: int = 500) -> list[Run]:
        """Planned runs whose time has come, oldest first."""
        query = (
            _RUN_WITH_SYNC.where(
                runs.c.status == RunStatus.SCHEDULED.value, runs.c.scheduled_for <= now
            )
            .order_by(runs.c.scheduled_for)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [Run.from_row(r) for r in conn.execute(query).mappings()]

    def upcoming(self, workspace_id: str, limit: int = 200) -> list[Run]:
        query = (
            _RUN_WITH_SYNC.where(
                runs.c.workspace_id == workspace_id, runs.c.status == RunStatus.SCHEDULED.value
            )
            .order_by(runs.c.scheduled_for)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [Run.from_row(r) for r in conn.execute(query).mappings()]

    def latest_per_sync(self, workspace_id: str) -> dict[str, Run]:
        """Each sync's last run that was not merely planned or skipped (live or ended), by
        when it ran: one index walk per sync, whatever the number of runs."""
        newest = (
            sa.select(latest.c.id)
            .where(
                latest.c.sync_id == syncs.c.id,
                latest.c.deleted_at.is_(None),
                latest.c.status.notin_([s.value for s in NOT_RUN]),
                # a planned or queued run cancelled before it started did not run
                sa.or_(
                    latest.c.status != RunStatus.ABORTED.value, latest.c.started_at.is_not(None)
                ),
            )
            .order_by(latest.c.ran_at.desc(), latest.c.id.desc())
            .limit(1)
            .correlate(syncs)
            .scalar_subquery()
        )
        query = _RUN_WITH_SYNC.where(syncs.c.workspace_id == workspace_id, runs.c.id == newest)
        with self.engine.connect() as conn:
            return {r["sync_id"]: Run.from_row(r) for r in conn.execute(query).mappings()}

    def next_planned(self, workspace_id: str) -> dict[str, Run]:
        """Each sync's soonest planned run."""
        found: dict[str, Run] = {}
        for run in self.upcoming(workspace_id, limit=10_000):
            found.setdefault(run.sync_id, run)
        return found

    # -- admission ------------------------------------------------------------------------
    def waiting(self, conn: sa.Connection, limit: int = 1000) -> list[dict[str, Any]]:
        """Queued runs not yet admitted, in admission order, with their destination."""
        return [
            dict(r)
            for r in conn.execute(
                sa.select(runs.c.id, runs.c.sync_id, syncs.c.destination_id)
                .join(syncs, syncs.c.id == runs.c.sync_id)
                .where(runs.c.status == RunStatus.QUEUED.value, runs.c.admitted_at.is_(None))
                .order_by(runs.c.priority, runs.c.created_at, runs.c.id)
                .limit(limit)
            ).mappings()
        ]

    def admitted_live(self, conn: sa.Connection) -> list[dict[str, Any]]:
        """Admitted runs that have not ended: what holds capacity now."""
        return [
            dict(r)
            for r in conn.execute(
                sa.select(runs.c.id, runs.c.sync_id, syncs.c.destination_id)
                .join(syncs, syncs.c.id == runs.c.sync_id)
                .where(
                    runs.c.status.in_([s.value for s in LIVE_RUN_STATUSES]),
                    runs.c.admitted_at.is_not(None),
                )
            ).mappings()
        ]

    def admit(self, conn: sa.Connection, run_id: str, now: datetime) -> bool:
        return (
            conn.execute(
                runs.update()
                .where(
                    runs.c.id == run_id,
                    runs.c.status == RunStatus.QUEUED.value,
                    runs.c.admitted_at.is_(None),
                )
                .values(admitted_at=now)
            ).rowcount
            == 1
        )

    def recent_outcomes(self, sync_id: str, limit: int) -> list[RunStatus]:
        """The statuses of the sync's last ``limit`` runs that ran to an end (newest first)."""
        ran = [RunStatus.SUCCEEDED, RunStatus.INCOMPLETE, RunStatus.FAILED]
        with self.engine.connect() as conn:
            return [
                RunStatus(s)
                for s in conn.execute(
                    sa.select(runs.c.status)
                    .where(runs.c.sync_id == sync_id, runs.c.status.in_([r.value for r in ran]))
                    .order_by(runs.c.ended_at.desc())
                    .limit(limit)
                ).scalars()
            ]

    def live(self, sync_id: str) -> list[Run]:
        query = _RUN_WITH_SYNC.where(
            runs.c.sync_id == sync_id, runs.c.status.in_([s.value for s in LIVE_RUN_STATUSES])
        )
        with self.engine.connect() as conn:
            return [Run.from_row(r) for r in conn.execute(query).mappings()]

    def ids_starting(self, workspace_id: str, prefix: str, limit: int = 2) -> builtins.list[str]:
        """Ids of the workspace's runs that start with ``prefix`` (a short id as pages
        show it)."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(runs.c.id)
                    .where(
                        runs.c.workspace_id == workspace_id,
                        # compared as characters: a collation's order plays no part
                        sa.func.substr(runs.c.id, 1, len(prefix)) == prefix,
                    )
                    .order_by(runs.c.id)
                    .limit(limit)
                ).scalars()
            )

    def get(self, run_id: str, conn: sa.Connection | None = None) -> Run:
        if conn is not None:
            row = conn.execute(_RUN_WITH_SYNC.where(runs.c.id == run_id)).mappings().first()
        else:
            with self.engine.connect() as own:
                row = own.execute(_RUN_WITH_SYNC.where(runs.c.id == run_id)).mappings().first()
        if row is None:
            raise NotFound(f"no run with id {run_id}")
        return Run.from_row(row)

    def list(
        self,
        workspace_id: str,
        f: RunFilter = RunFilter(),
        *,
        before: tuple[datetime, str] | None = None,
        limit: int = 50,
        sort: str = "ran_at",
        descending: bool = True,
        offset: int = 0,
    ) -> builtins.list[Run]:
        """Runs of the workspace, the last to run first (by when they ran: started, else
        scheduled, else created; then id, a stable order), from after the ``before``
        (ran_at, id) of the previous page; or in another order (``sort``, one of
        ``RUN_SORTS``), a page at ``offset``."""
        query = _RUN_WITH_SYNC.where(
            runs.c.workspace_id == workspace_id, runs.c.deleted_at.is_(None)
        )
        if f.sync_id:
            query = query.where(runs.c.sync_id == f.sync_id)
        if f.status:
            query = query.where(runs.c.status == f.status.value)
        if f.type:
            query = query.where(runs.c.type == f.type)
        if f.trigger:
            query = query.where(runs.c.trigger == f.trigger.value)
        if f.ran:
            query = query.where(*_RAN)
        if f.since:
            query = query.where(runs.c.ran_at >= f.since)
        if f.until:
            query = query.where(runs.c.ran_at < f.until)
        if before:
            at, run_id = before
            query = query.where(
                sa.or_(runs.c.ran_at < at, sa.and_(runs.c.ran_at == at, runs.c.id < run_id))
            )
        if sort not in RUN_SORTS:
            raise ConfigError(
                f"cannot sort by {sort!r}; one of {', '.join(RUN_SORTS)}", field="sort"
            )
        column = syncs.c.name if sort == "sync" else runs.c[sort]
        keys = [column, runs.c.ran_at, runs.c.id]
        query = query.order_by(*(k.desc() if descending else k.asc() for k in keys))
        query = query.limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [Run.from_row(r) for r in conn.execute(query).mappings()]

    def with_status(self, statuses: frozenset[RunStatus]) -> builtins.list[Run]:
        query = _RUN_WITH_SYNC.where(runs.c.status.in_([s.value for s in statuses]))
        with self.engine.connect() as conn:
            return [
                Run.from_row(r) for r in conn.execute(query.order_by(runs.c.created_at)).mappings()
            ]

    def transition(
        self,
        run_id: str,
        status: RunStatus,
        *,
        infos: dict[str, Any] | None = None,
        counters: Counters | None = None,
        runner: str | None = None,
        started: bool = False,
        ended: bool = False,
        expected: RunStatus | None = None,
        conn: sa.Connection | None = None,
    ) -> Run:
        """Move a run to ``status`` (checked against the legal transitions), merging ``infos``.
        With ``expected``, only from that status: of two processes racing, one wins. With
        ``conn``, inside that connection's transaction (it commits with the caller's)."""
        if conn is not None:
            return self._transition(
                conn, run_id, status, infos, counters, runner, started, ended, expected
            )
        with self.engine.begin() as own:
            return self._transition(
                own, run_id, status, infos, counters, runner, started, ended, expected
            )

    def _transition(
        self,
        conn: sa.Connection,
        run_id: str,
        status: RunStatus,
        infos: dict[str, Any] | None,
        counters: Counters | None,
        runner: str | None,
        started: bool,
        ended: bool,
        expected: RunStatus | None,
    ) -> Run:
        now = utcnow()
        row = (
            conn.execute(
                # The row locked first (PostgreSQL): a batch recorded meanwhile waits, and
                # its change to the infos is not lost.
                sa.select(runs.c.status, runs.c.infos, runs.c.started_at)
                .where(runs.c.id == run_id)
                .with_for_update()
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"no run with id {run_id}")
        current = RunStatus(row["status"])
        if expected is not None and current is not expected:
            raise IllegalTransition(f"run {run_id} is {current.value}, not {expected.value}")
        check_transition(current, status)
        merged = {**(row["infos"] or {}), **(infos or {}), "stage": status.value}
        values: dict[str, Any] = {"status": status.value, "infos": merged, "updated_at": now}
        if counters is not None:
            values.update(counters.as_dict())
        if runner is not None:
            values["runner"] = runner
        if started and row["started_at"] is None:
            values["started_at"] = values["ran_at"] = now
        if ended:
            values["ended_at"] = now
            if row["started_at"] is None and not started:
                values["ran_at"] = now  # it never started: it happened when it ended
        updated = conn.execute(
            runs.update()
            .where(runs.c.id == run_id, runs.c.status == current.value)
            .values(**values)
        )
        if updated.rowcount != 1:
            raise IllegalTransition(f"run {run_id} changed status while moving to {status.value}")
        return self.get(run_id, conn)

    def update_infos(self, conn: sa.Connection, run_id: str, patch: dict[str, Any]) -> None:
        infos = conn.execute(sa.select(runs.c.infos).where(runs.c.id == run_id)).scalar_one()
        conn.execute(
            runs.update()
            .where(runs.c.id == run_id)
            .values(infos={**(infos or {}), **patch}, updated_at=utcnow())
        )

    def add_retries(self, conn: sa.Connection, run_id: str, retries: int) -> None:
        if retries:
            conn.execute(
                runs.update().where(runs.c.id == run_id).values(retries=runs.c.retries + retries)
            )

    def taken_over(self, run_id: str, runner: str, previous: str, at: datetime) -> None:
        """Record that ``runner`` took the run over from a worker that went silent."""
        with self.engine.begin() as conn:
            infos = conn.execute(sa.select(runs.c.infos).where(runs.c.id == run_id)).scalar_one()
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    runner=runner,
                    infos={**(infos or {}), "taken_over": {"from": previous, "at": at.isoformat()}},
                    updated_at=utcnow(),
                )
            )

    def add_outcomes(self, conn: sa.Connection, run_id: str, **deltas: int) -> None:
        """Add to counters inside the caller's transaction (the one that records the entries)."""
        unknown = set(deltas) - set(COUNTER_NAMES)
        if unknown:
            raise ValueError(f"unknown counters {sorted(unknown)}")
        conn.execute(
            runs.update()
            .where(runs.c.id == run_id)
            .values(updated_at=utcnow(), **{k: runs.c[k] + v for k, v in deltas.items() if v})
        )
