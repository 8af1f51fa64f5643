"""The audit log, written in the transaction of the change it records when there is one."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from syncwright.domain.audit import AuditEvent
from syncwright.domain.clock import utcnow
from syncwright.storage.tables import audit_log


class AuditRepository:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def record(
        self,
        workspace_id: str,
        action: str,
        object_type: str,
        *,
        object_id: str | None = None,
        object_name: str | None = None,
        user_id: str | None = None,
        detail: dict[str, Any] | None = None,
        conn: sa.Connection | None = None,
    ) -> None:
        values = {
            "workspace_id": workspace_id,
            "at": utcnow(),
            "user_id": user_id,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "object_name": object_name,
            "detail": detail or {},
        }
        if conn is not None:
            conn.execute(audit_log.insert().values(**values))
            return
        with self.engine.begin() as own:
            own.execute(audit_log.insert().values(**values))

    def list(
        self,
        workspace_id: str,
        *,
        before_id: int | None = None,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        user_id: str | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]:
        """Newest first; ``before_id`` continues after the previous page."""
        query = sa.select(audit_log).where(audit_log.c.workspace_id == workspace_id)
        for column, value in (
            (audit_log.c.action, action),
            (audit_log.c.object_type, object_type),
            (audit_log.c.object_id, object_id),
            (audit_log.c.user_id, user_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if before_id is not None:
            query = query.where(audit_log.c.id < before_id)
        query = query.order_by(audit_log.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [AuditEvent.from_row(r) for r in conn.execute(query).mappings()]
