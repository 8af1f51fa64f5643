"""Engine processes beat here; a live one takes over the runs of one that went silent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from syncwright.domain.clock import as_utc
from syncwright.storage.snapshots_repo import upsert_statement
from syncwright.storage.tables import workers

#: The heartbeat of a process that left: older than any takeover delay.
LEFT = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Worker:
    executor_id: str
    runner: str
    heartbeat_at: datetime


class WorkerRepository:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def beat(
        self, executor_id: str, runner: str, now: datetime, application_version: str | None = None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                upsert_statement(
                    conn,
                    workers,
                    ["executor_id"],
                    ["runner", "heartbeat_at", "application_version"],
                ),
                {
                    "executor_id": executor_id,
                    "runner": runner,
                    "started_at": now,
                    "heartbeat_at": now,
                    "application_version": application_version,
                },
            )

    def live(self, since: datetime) -> dict[str, str | None]:
        """The processes that beat since ``since``: executor id -> application version."""
        with self.engine.connect() as conn:
            return {
                r.executor_id: r.application_version
                for r in conn.execute(
                    sa.select(workers.c.executor_id, workers.c.application_version).where(
                        workers.c.heartbeat_at >= since
                    )
                )
            }

    def silent_since(self, before: datetime) -> list[Worker]:
        with self.engine.connect() as conn:
            return [
                Worker(r.executor_id, r.runner, as_utc(r.heartbeat_at))  # type: ignore[arg-type]
                for r in conn.execute(
                    sa.select(workers.c.executor_id, workers.c.runner, workers.c.heartbeat_at)
                    .where(workers.c.heartbeat_at < before)
                    .order_by(workers.c.heartbeat_at)
                )
            ]

    def claim(self, worker: Worker) -> bool:
        """Remove a silent worker's row if it is still silent; True for the one process that
        does (it takes the runs over)."""
        with self.engine.begin() as conn:
            return (
                conn.execute(
                    workers.delete().where(
                        workers.c.executor_id == worker.executor_id,
                        workers.c.heartbeat_at == worker.heartbeat_at,
                    )
                ).rowcount
                == 1
            )

    def forget(self, executor_id: str) -> None:
        """A process leaving with nothing in flight: no row of it stays behind."""
        with self.engine.begin() as conn:
            conn.execute(workers.delete().where(workers.c.executor_id == executor_id))

    def leave(self, executor_id: str) -> None:
        """A process shutting down: it may leave workflows its engine had not yet closed (a
        run that ended a moment before, or one in flight). It reads as silent from now on,
        so a live engine takes its workflows over at once (or the next one to start)."""
        with self.engine.begin() as conn:
            conn.execute(
                workers.update()
                .where(workers.c.executor_id == executor_id)
                .values(heartbeat_at=LEFT)
            )
