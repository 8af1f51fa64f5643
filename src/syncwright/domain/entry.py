"""An entry: one item of one run in the sync report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from syncwright.domain.clock import as_utc
from syncwright.domain.statuses import EntryStatus, Operation


@dataclass(frozen=True, kw_only=True)
class Entry:
    """What happened to one item in one run."""

    id: int
    run_id: str
    sync_id: str
    seq: int
    item_key: str
    reference: str
    system: str
    source_id: str
    endpoint_id: str | None
    operation: Operation
    status: EntryStatus
    attempts: int
    error: str | None
    payload: str | None
    created_at: datetime
    updated_at: datetime
    error_group: str | None = None
    #: The earlier entry this one tries again (the item's previous failure, or a resynced one).
    retry_of: int | None = None
    sync_name: str | None = None
    #: The item's newest status across runs, and when it was reached (when asked for).
    latest_status: EntryStatus | None = None
    latest_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Entry:
        return cls(
            id=row["id"],
            run_id=row["run_id"],
            sync_id=row["sync_id"],
            seq=row["seq"],
            item_key=row["item_key"],
            reference=row["reference"],
            system=row["system"],
            source_id=row["source_id"],
            endpoint_id=row["endpoint_id"],
            operation=Operation(row["operation"]),
            status=EntryStatus(row["status"]),
            attempts=row["attempts"],
            error=row["error"],
            payload=row.get("payload"),
            created_at=as_utc(row["created_at"]),
            updated_at=as_utc(row["updated_at"]),
            error_group=row.get("error_group"),
            retry_of=row.get("retry_of"),
            sync_name=row.get("sync_name"),
            latest_status=EntryStatus(row["latest_status"]) if row.get("latest_status") else None,
            latest_at=as_utc(row["latest_at"]) if row.get("latest_at") else None,
        )
