"""The audit log: who changed the configuration or acted by hand, and when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from syncwright.domain.clock import as_utc


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    """One recorded action. ``user_id`` is None when it came from the command line."""

    id: int
    workspace_id: str
    at: datetime
    user_id: str | None
    #: What was done: ``source.created``, ``sync.updated``, ``sync.deleted``,
    #: ``sync.enabled``, ``run.started``, ``run.cancelled``, ``run.approved``, ``entries.resynced``,
    #: ``member.set``, ``member.removed``...
    action: str
    object_type: str
    object_id: str | None
    object_name: str | None
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AuditEvent:
        return cls(
            id=row["id"],
            workspace_id=row["workspace_id"],
            at=as_utc(row["at"]),
            user_id=row["user_id"],
            action=row["action"],
            object_type=row["object_type"],
            object_id=row["object_id"],
            object_name=row["object_name"],
            detail=dict(row["detail"] or {}),
        )
