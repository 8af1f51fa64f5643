"""A run: one execution of a sync (the seeds' synchronisation record)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from syncwright.domain.clock import as_utc
from syncwright.domain.counters import Counters
from syncwright.domain.statuses import RunMode, RunStatus, Trigger

#: The orders a list of runs can take (a run's column, or its sync's name).
RUN_SORTS = (
    "ran_at",
    "created_at",
    "started_at",
    "ended_at",
    "updated_at",
    "sync",
    "status",
    "type",
    "trigger",
    "runner",
    "read",
    "ok",
    "failed",
)


@dataclass(frozen=True, kw_only=True)
class Run:
    """One execution of a sync, with its status, counters and progress."""

    id: str
    workspace_id: str
    sync_id: str
    type: str
    trigger: Trigger
    mode: RunMode
    status: RunStatus
    counters: Counters
    infos: dict[str, Any] = field(default_factory=dict)
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    updated_at: datetime
    deleted_at: datetime | None = None
    runner: str | None = None
    created_by_user_id: str | None = None
    sync_name: str | None = None
    #: When a planned run is due (status ``scheduled``).
    scheduled_for: datetime | None = None
    priority: int = 5
    #: When the run got capacity and went to the engine's queue (None: still waiting).
    admitted_at: datetime | None = None
    #: When it ran: started, else scheduled, else created (what lists order runs by).
    ran_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Run:
        return cls(
            id=row["id"],
            workspace_id=row["workspace_id"],
            sync_id=row["sync_id"],
            type=row["type"],
            trigger=Trigger(row["trigger"]),
            mode=RunMode(row["mode"]),
            status=RunStatus(row["status"]),
            counters=Counters.from_row(row),
            infos=dict(row["infos"] or {}),
            created_at=as_utc(row["created_at"]),
            started_at=as_utc(row["started_at"]),
            ended_at=as_utc(row["ended_at"]),
            updated_at=as_utc(row["updated_at"]),
            deleted_at=as_utc(row["deleted_at"]),
            runner=row["runner"],
            created_by_user_id=row["created_by_user_id"],
            sync_name=row.get("sync_name"),
            scheduled_for=as_utc(row.get("scheduled_for")),
            priority=int(row.get("priority") or 5),
            admitted_at=as_utc(row.get("admitted_at")),
            ran_at=as_utc(row.get("ran_at")) or as_utc(row["created_at"]),
        )

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.ended_at or self.updated_at
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def when(self) -> datetime:
        """When it ran: started, else scheduled, else created."""
        return self.ran_at or self.started_at or self.scheduled_for or self.created_at

    @property
    def counted(self) -> bool:
        """Whether its counters mean anything yet (a planned or queued run has none)."""
        return self.started_at is not None

    @property
    def error(self) -> str | None:
        value = self.infos.get("error")
        return str(value) if value else None


@dataclass(frozen=True, kw_only=True)
class RunFilter:
    """Which runs of a workspace: each set field narrows the list."""

    sync_id: str | None = None
    status: RunStatus | None = None
    type: str | None = None
    trigger: Trigger | None = None
    #: Only runs that ran (not planned for later, not skipped, not cancelled before starting).
    ran: bool = False
    #: Ran at or after (started, else scheduled, else created).
    since: datetime | None = None
    #: Ran before.
    until: datetime | None = None
