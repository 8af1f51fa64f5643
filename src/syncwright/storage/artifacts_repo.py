"""Artifacts: the files runs published, newest first per sync."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from syncwright.domain.artifacts import Artifact
from syncwright.domain.clock import utcnow
from syncwright.storage.tables import artifacts


class ArtifactRepository:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def save(self, *, run_id: str, sync_id: str, workspace_id: str, **values: Any) -> Artifact:
        """Record the run's artifact; a replayed publish replaces the earlier record."""
        row = {
            "id": str(uuid.uuid4()),
            "run_id": run_id,
            "sync_id": sync_id,
            "workspace_id": workspace_id,
            "created_at": utcnow(),
            **values,
        }
        with self.engine.begin() as conn:
            conn.execute(artifacts.delete().where(artifacts.c.run_id == run_id))
            conn.execute(artifacts.insert().values(**row))
        return Artifact.from_row(row)

    def for_run(self, run_id: str) -> Artifact | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(artifacts).where(artifacts.c.run_id == run_id))
                .mappings()
                .first()
            )
        return Artifact.from_row(row) if row else None

    def latest(self, sync_id: str) -> Artifact | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(artifacts)
                    .where(artifacts.c.sync_id == sync_id)
                    .order_by(artifacts.c.created_at.desc(), artifacts.c.id.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
        return Artifact.from_row(row) if row else None
