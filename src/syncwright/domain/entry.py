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
            payload=row["payload"],
            created_at=as_utc(row["created_at"]),
            updated_at=as_utc(row["updated_at"]),
        )
