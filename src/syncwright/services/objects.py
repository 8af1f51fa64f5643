"""One configured object at a time, as the API changes them: create, replace, organise and
delete a source, model, destination or sync. Creating and replacing go through the same
checks as a configuration file; deleting is a soft delete that refuses to break anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syncwright.connectors.registry import ConnectorRegistry
from syncwright.domain.audit import AuditEvent
from syncwright.domain.errors import Conflict
from syncwright.domain.statuses import Trigger
from syncwright.engine.scheduler import Scheduler
from syncwright.services.apply import ConfigService
from syncwright.services.config_file import ConfigDoc, ConnectionDoc, ModelDoc, SyncDoc
from syncwright.storage.store import Store

KINDS = ("source", "model", "destination", "sync")
_PLURAL = {"source": "sources", "model": "models", "destination": "destinations", "sync": "syncs"}


class ObjectService:
    def __init__(
        self, store: Store, connectors: ConnectorRegistry, workspace_id: str, base_dir: Path
    ) -> None:
        self.store = store
        self.workspace_id = workspace_id
        self.base_dir = base_dir
        self.configs = ConfigService(store, connectors, workspace_id)

    def audit_log(
        self, *, before_id: int | None = None, limit: int = 100, **filters: str | None
    ) -> list[AuditEvent]:
        """Configuration changes and manual actions here, newest first (``filters``: action,
        object_type, object_id, user_id)."""
        return self.store.audit.list(self.workspace_id, before_id=before_id, limit=limit, **filters)

    def row(self, kind: str, object_id: str) -> dict[str, Any]:
        """A live object of this workspace; any other is not found."""
        return self.store.config.live(kind, self.workspace_id, object_id)

    def create(
        self,
        kind: str,
        name: str,
        doc: ConnectionDoc | ModelDoc | SyncDoc,
        *,
        user_id: str | None,
        check_connections: bool = True,
    ) -> str:
        """A new object named ``name``; one of that name already there is a conflict."""
        if self.store.config.find(kind, self.workspace_id, name) is not None:
            raise Conflict(f"a {kind} named {name!r} exists already; replace it by its id")
        return self._apply(kind, name, doc, user_id, check_connections)

    def replace(
        self,
        kind: str,
        object_id: str,
        doc: ConnectionDoc | ModelDoc | SyncDoc,
        *,
        user_id: str | None,
        check_connections: bool = True,
    ) -> str:
        """The object's whole configuration, replaced (its name stays)."""
        name = self.row(kind, object_id)["name"]
        return self._apply(kind, name, doc, user_id, check_connections)

    def _apply(
        self,
        kind: str,
        name: str,
        doc: ConnectionDoc | ModelDoc | SyncDoc,
        user_id: str | None,
        check_connections: bool,
    ) -> str:
        config = ConfigDoc.model_validate({_PLURAL[kind]: {name: doc.model_dump()}})
        self.configs.apply(
            config, base_dir=self.base_dir, user_id=user_id, check_connections=check_connections
        )
        found = self.store.config.find(kind, self.workspace_id, name)
        assert found is not None  # just written
        return str(found["id"])

    def organise(
        self,
        sync_id: str,
        *,
        folder: str | None = None,
        labels: list[str] | None = None,
        clear_folder: bool = False,
        user_id: str | None,
    ) -> None:
        """Move a sync to a folder (or out of any) and set its labels."""
        row = self.row("sync", sync_id)
        values: dict[str, Any] = {}
        if folder is not None or clear_folder:
            values["folder"] = folder
        if labels is not None:
            values["labels"] = sorted(set(labels))
        if not values:
            return
        self.store.config.update_sync(sync_id, user_id=user_id, **values)
        self.store.audit.record(
            self.workspace_id,
            "sync.organised",
            "sync",
            object_id=sync_id,
            object_name=row["name"],
            user_id=user_id,
            detail=values,
        )

    def delete(self, kind: str, object_id: str, *, user_id: str | None) -> None:
        """Delete an object nothing live uses. A sync's planned runs go, its webhook stops
        working; a sync with a live run, that other syncs run after or that an alert rule
        watches, is refused."""
        row = self.row(kind, object_id)
        users = self.store.config.users_of(kind, object_id)
        if users:
            raise Conflict(
                f"{kind} {row['name']!r} is used by {', '.join(users)}; delete those first"
            )
        if kind == "sync":
            self._check_sync_can_go(row)
        with self.store.engine.begin() as conn:
            self.store.config.soft_delete(conn, kind, object_id, user_id=user_id)
            if kind == "sync":
                self.store.webhooks.drop(object_id, conn)
            self.store.audit.record(
                self.workspace_id,
                f"{kind}.deleted",
                kind,
                object_id=object_id,
                object_name=row["name"],
                user_id=user_id,
                conn=conn,
            )
        if kind == "sync":
            sync = self.store.config.sync(object_id)
            scheduler = Scheduler(self.store)
            for trigger in Trigger:
                scheduler.drop_planned(sync, trigger, "the sync was deleted")

    def _check_sync_can_go(self, row: dict[str, Any]) -> None:
        live = self.store.runs.live(row["id"])
        if live:
            raise Conflict(
                f"sync {row['name']!r} has a live run ({live[0].id}, {live[0].status.value});"
                " cancel it or wait for it to end"
            )
        after = [
            s.name
            for s in self.store.config.list_syncs(self.workspace_id)
            if row["name"] in s.triggers.after
        ]
        if after:
            raise Conflict(
                f"syncs {', '.join(after)} run after sync {row['name']!r}; change them first"
            )
        watching = [
            r.name for r in self.store.alerts.rules(self.workspace_id) if r.sync_id == row["id"]
        ]
        if watching:
            raise Conflict(
                f"alert rules {', '.join(watching)} watch sync {row['name']!r};"
                " delete them or point them elsewhere first"
            )
