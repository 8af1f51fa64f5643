"""What the metrics read: aggregates over the runs and the workers, computed by the database
at each scrape (the runs table is small next to the entries, which are never scanned), so
every process shows the same figures whichever worker did the work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

import sqlalchemy as sa

from syncwright.domain.clock import as_utc
from syncwright.domain.statuses import RunStatus, Trigger
from syncwright.storage.tables import (
    alert_channels,
    alert_deliveries,
    alert_incidents,
    alert_rules,
    runs,
    syncs,
    workers,
    workspaces,
)

#: Item outcomes counted per sync (the run counters of the same names).
ITEM_STATUSES = ("ok", "sent", "pending", "failed", "skipped", "not_sent")


@dataclass(frozen=True)
class Histogram:
    """Per sync: how many observations were at most each bound, their count and sum."""

    workspace: str
    sync: str
    at_most: tuple[int, ...]
    count: int
    total: float


@dataclass(frozen=True)
class WorkerBeat:
    executor_id: str
    runner: str
    application_version: str | None
    heartbeat_at: datetime


class MetricsRepository:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def _seconds(self, later: Any, earlier: Any) -> Any:
        if self.engine.dialect.name == "postgresql":
            return sa.func.extract("epoch", later - earlier)
        return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0

    def _per_sync(self, *columns: Any) -> sa.Select:
        return (
            sa.select(workspaces.c.name, syncs.c.name, *columns)
            .select_from(runs)
            .join(syncs, syncs.c.id == runs.c.sync_id)
            .join(workspaces, workspaces.c.id == runs.c.workspace_id)
            .group_by(workspaces.c.name, syncs.c.name)
        )

    def runs_by_status(self) -> list[tuple[str, str, str, int]]:
        """(workspace, sync, status, runs) for the runs the store holds."""
        query = self._per_sync(runs.c.status, sa.func.count()).group_by(runs.c.status)
        with self.engine.connect() as conn:
            return [(w, s, status, int(n)) for w, s, status, n in conn.execute(query)]

    def items(self) -> list[tuple[str, str, dict[str, int], int]]:
        """(workspace, sync, items by outcome, retries) summed over the sync's runs."""
        query = self._per_sync(
            *(sa.func.coalesce(sa.func.sum(runs.c[name]), 0) for name in ITEM_STATUSES),
            sa.func.coalesce(sa.func.sum(runs.c.retries), 0),
        )
        with self.engine.connect() as conn:
            return [
                (row[0], row[1], dict(zip(ITEM_STATUSES, map(int, row[2:-1]))), int(row[-1]))
                for row in conn.execute(query)
            ]

    def _histogram(
        self, seconds: Any, where: Sequence[Any], bounds: Sequence[float]
    ) -> list[Histogram]:
        query = self._per_sync(
            *(sa.func.sum(sa.case((seconds <= bound, 1), else_=0)) for bound in bounds),
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(seconds), 0.0),
        ).where(*where)
        with self.engine.connect() as conn:
            return [
                Histogram(
                    workspace=row[0],
                    sync=row[1],
                    at_most=tuple(int(n or 0) for n in row[2 : 2 + len(bounds)]),
                    count=int(row[-2]),
                    total=float(row[-1]),
                )
                for row in conn.execute(query)
            ]

    def durations(self, bounds: Sequence[float]) -> list[Histogram]:
        """Seconds from start to end of the runs that ended."""
        seconds = self._seconds(runs.c.ended_at, runs.c.started_at)
        return self._histogram(
            seconds, [runs.c.started_at.is_not(None), runs.c.ended_at.is_not(None)], bounds
        )

    def scheduling_lags(self, bounds: Sequence[float]) -> list[Histogram]:
        """Seconds from a scheduled run's planned time to its start."""
        seconds = self._seconds(runs.c.started_at, runs.c.scheduled_for)
        return self._histogram(
            seconds,
            [
                runs.c.trigger == Trigger.SCHEDULE.value,
                runs.c.started_at.is_not(None),
                runs.c.scheduled_for.is_not(None),
            ],
            bounds,
        )

    def live_runs(self) -> dict[str, int]:
        """Live runs by status; ``queued`` split into waiting for capacity and admitted."""
        live = [s.value for s in RunStatus if not s.is_final and s is not RunStatus.SCHEDULED]
        query = (
            sa.select(runs.c.status, runs.c.admitted_at.is_not(None), sa.func.count())
            .where(runs.c.status.in_(live))
            .group_by(runs.c.status, runs.c.admitted_at.is_not(None))
        )
        found: dict[str, int] = {}
        with self.engine.connect() as conn:
            for status, admitted, count in conn.execute(query):
                if status == RunStatus.QUEUED.value:
                    status = "admitted" if admitted else "waiting"
                found[status] = found.get(status, 0) + int(count)
        return found

    def workers(self) -> list[WorkerBeat]:
        query = sa.select(
            workers.c.executor_id,
            workers.c.runner,
            workers.c.application_version,
            workers.c.heartbeat_at,
        )
        with self.engine.connect() as conn:
            return [
                WorkerBeat(e, r, v, as_utc(h))  # type: ignore[arg-type]
                for e, r, v, h in conn.execute(query)
            ]

    def open_alerts(self) -> list[tuple[str, str, str, int]]:
        """(workspace, rule, sync, open alerts) for the alerts open now."""
        i = alert_incidents
        query = (
            sa.select(workspaces.c.name, alert_rules.c.name, syncs.c.name, sa.func.count())
            .select_from(i)
            .join(alert_rules, alert_rules.c.id == i.c.rule_id)
            .join(syncs, syncs.c.id == i.c.sync_id)
            .join(workspaces, workspaces.c.id == i.c.workspace_id)
            .where(i.c.closed_at.is_(None))
            .group_by(workspaces.c.name, alert_rules.c.name, syncs.c.name)
        )
        with self.engine.connect() as conn:
            return [(w, r, s, int(n)) for w, r, s, n in conn.execute(query)]

    def notices(self) -> list[tuple[str, str, str, int]]:
        """(workspace, channel, status, notices) for the alert notices the store holds."""
        d = alert_deliveries
        query = (
            sa.select(workspaces.c.name, alert_channels.c.name, d.c.status, sa.func.count())
            .select_from(d)
            .join(alert_channels, alert_channels.c.id == d.c.channel_id)
            .join(workspaces, workspaces.c.id == alert_channels.c.workspace_id)
            .group_by(workspaces.c.name, alert_channels.c.name, d.c.status)
        )
        with self.engine.connect() as conn:
            return [(w, c, status, int(n)) for w, c, status, n in conn.execute(query)]
