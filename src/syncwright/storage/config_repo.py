"""Workspaces, users and the configured sources, models, destinations and syncs."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from syncwright.domain.clock import utcnow
from syncwright.domain.errors import NotFound
from syncwright.domain.sync import ConnectionSpec, ModelSpec, SyncSpec
from syncwright.storage.secrets import SecretBox
from syncwright.storage.tables import (
    alert_channels,
    alert_rules,
    destinations,
    models,
    sources,
    syncs,
    workspaces,
)

#: The tables of configured objects, by the kind name used in config files and messages.
KIND_TABLES: dict[str, sa.Table] = {
    "source": sources,
    "model": models,
    "destination": destinations,
    "sync": syncs,
    "alert_channel": alert_channels,
    "alert_rule": alert_rules,
}


#: The kinds whose ``config`` may hold sealed secrets.
_CONNECTIONS = frozenset({"source", "destination"})


def soft_delete(
    conn: sa.Connection, table: sa.Table, object_id: str, *, user_id: str | None
) -> None:
    """Mark a configured row deleted (any table with a name and the audit columns); its name
    is freed for a new object (the old one keeps it with the time of deletion, so runs,
    entries and alerts that name it still read well)."""
    now = utcnow()
    name = conn.execute(sa.select(table.c.name).where(table.c.id == object_id)).scalar_one()
    conn.execute(
        table.update()
        .where(table.c.id == object_id)
        .values(
            deleted_at=now,
            updated_at=now,
            updated_by_user_id=user_id,
            name=f"{name} (deleted {now:%Y-%m-%d %H:%M:%S})"[:200],
        )
    )


class ConfigRepository:
    def __init__(self, engine: sa.Engine, box: SecretBox) -> None:
        self.engine = engine
        self.box = box

    def _opened(self, kind: str, row: Any) -> dict[str, Any]:
        """A row as the rest of syncwright reads it: connector secrets opened."""
        found = dict(row)
        if kind in _CONNECTIONS and found.get("config") is not None:
            found["config"] = self.box.open(found["config"])
        return found

    # -- workspaces ---------------------------------------------------------------------
    def ensure_workspace(self, name: str) -> str:
        with self.engine.begin() as conn:
            found = conn.execute(
                sa.select(workspaces.c.id).where(workspaces.c.name == name)
            ).scalar_one_or_none()
            if found:
                return str(found)
            new_id = str(uuid.uuid4())
            conn.execute(workspaces.insert().values(id=new_id, name=name, created_at=utcnow()))
            return new_id

    def workspace_id(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(workspaces.c.id).where(workspaces.c.name == name)
            ).scalar_one_or_none()
        return None if found is None else str(found)

    def workspace(self, workspace_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(workspaces).where(workspaces.c.id == workspace_id))
                .mappings()
                .first()
            )
        return None if row is None else dict(row)

    def workspace_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(sa.select(workspaces.c.id).order_by(workspaces.c.id)).scalars()
            )

    # -- generic rows -------------------------------------------------------------------
    def find(self, kind: str, workspace_id: str, name: str) -> dict[str, Any] | None:
        table = KIND_TABLES[kind]
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(table).where(
                        table.c.workspace_id == workspace_id,
                        table.c.name == name,
                        table.c.deleted_at.is_(None),
                    )
                )
                .mappings()
                .first()
            )
        return self._opened(kind, row) if row else None

    def get(self, kind: str, object_id: str) -> dict[str, Any]:
        table = KIND_TABLES[kind]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == object_id)).mappings().first()
        if row is None:
            raise NotFound(f"no {kind.replace('_', ' ')} with id {object_id}")
        return self._opened(kind, row)

    def live(self, kind: str, workspace_id: str, object_id: str) -> dict[str, Any]:
        """An object of the workspace that is not deleted; any other is not found, as one
        that never existed."""
        try:
            row = self.get(kind, object_id)
        except NotFound:
            row = None
        if row is None or row["workspace_id"] != workspace_id or row["deleted_at"]:
            raise NotFound(f"no {kind.replace('_', ' ')} with id {object_id}")
        return row

    def rows(self, kind: str, workspace_id: str) -> list[dict[str, Any]]:
        """Every object of a kind in the workspace (not deleted), by name."""
        table = KIND_TABLES[kind]
        with self.engine.connect() as conn:
            return [
                self._opened(kind, r)
                for r in conn.execute(
                    sa.select(table)
                    .where(table.c.workspace_id == workspace_id, table.c.deleted_at.is_(None))
                    .order_by(table.c.name)
                ).mappings()
            ]

    def names(self, kind: str, workspace_id: str) -> list[str]:
        table = KIND_TABLES[kind]
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(table.c.name)
                    .where(table.c.workspace_id == workspace_id, table.c.deleted_at.is_(None))
                    .order_by(table.c.name)
                ).scalars()
            )

    def save(
        self,
        conn: sa.Connection,
        kind: str,
        workspace_id: str,
        name: str,
        values: dict[str, Any],
        *,
        user_id: str | None = None,
    ) -> tuple[str, str]:
        """Create or update one object by name; returns (id, 'created'|'updated'|'unchanged')."""
        table = KIND_TABLES[kind]
        now = utcnow()
        row = (
            conn.execute(
                sa.select(table).where(
                    table.c.workspace_id == workspace_id,
                    table.c.name == name,
                    table.c.deleted_at.is_(None),
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            new_id = str(uuid.uuid4())
            conn.execute(
                table.insert().values(
                    id=new_id,
                    workspace_id=workspace_id,
                    name=name,
                    created_at=now,
                    updated_at=now,
                    created_by_user_id=user_id,
                    updated_by_user_id=user_id,
                    **values,
                )
            )
            return new_id, "created"
        if all(row[k] == v for k, v in values.items()):
            return str(row["id"]), "unchanged"
        conn.execute(
            table.update()
            .where(table.c.id == row["id"])
            .values(updated_at=now, updated_by_user_id=user_id, **values)
        )
        return str(row["id"]), "updated"

    def soft_delete(
        self, conn: sa.Connection, kind: str, object_id: str, *, user_id: str | None
    ) -> None:
        """Mark an object deleted; its name is freed for a new object."""
        soft_delete(conn, KIND_TABLES[kind], object_id, user_id=user_id)

    def users_of(self, kind: str, object_id: str) -> list[str]:
        """Names of the live objects that use this one: a source's models, a model's or a
        destination's syncs."""
        user_table, column = {
            "source": (models, models.c.source_id),
            "model": (syncs, syncs.c.model_id),
            "destination": (syncs, syncs.c.destination_id),
        }.get(kind, (None, None))
        if user_table is None or column is None:
            return []
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(user_table.c.name)
                    .where(column == object_id, user_table.c.deleted_at.is_(None))
                    .order_by(user_table.c.name)
                ).scalars()
            )

    def update_sync(self, sync_id: str, *, user_id: str | None, **values: Any) -> None:
        """Change a sync's own columns (folder, labels) without going through a full apply."""
        with self.engine.begin() as conn:
            conn.execute(
                syncs.update()
                .where(syncs.c.id == sync_id)
                .values(updated_at=utcnow(), updated_by_user_id=user_id, **values)
            )

    # -- typed reads ----------------------------------------------------------------------
    def sync(self, sync_id: str) -> SyncSpec:
        return SyncSpec.from_row(self.get("sync", sync_id))

    def sync_by_name(self, workspace_id: str, name: str) -> SyncSpec:
        row = self.find("sync", workspace_id, name)
        if row is None:
            known = ", ".join(self.names("sync", workspace_id)) or "none"
            raise NotFound(f"no sync named {name!r} (known: {known})")
        return SyncSpec.from_row(row)

    def model(self, model_id: str) -> ModelSpec:
        return ModelSpec.from_row(self.get("model", model_id))

    def source(self, source_id: str) -> ConnectionSpec:
        return ConnectionSpec.from_row(self.get("source", source_id))

    def destination(self, destination_id: str) -> ConnectionSpec:
        return ConnectionSpec.from_row(self.get("destination", destination_id))

    def set_enabled(self, sync_id: str, enabled: bool, *, reason: str | None = None) -> None:
        """Turn a sync on or off; ``reason`` says why it was turned off (kept in settings)."""
        with self.engine.begin() as conn:
            settings = conn.execute(
                sa.select(syncs.c.settings).where(syncs.c.id == sync_id)
            ).scalar_one()
            settings = {**(settings or {}), "disabled_reason": None if enabled else reason}
            conn.execute(
                syncs.update()
                .where(syncs.c.id == sync_id)
                .values(enabled=enabled, settings=settings, updated_at=utcnow())
            )

    def list_syncs(self, workspace_id: str) -> list[SyncSpec]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(syncs)
                .where(syncs.c.workspace_id == workspace_id, syncs.c.deleted_at.is_(None))
                .order_by(syncs.c.name)
            ).mappings()
            return [SyncSpec.from_row(r) for r in rows]
