"""Reading a workspace's syncs by id: another workspace's sync is not found, as a missing one."""

from __future__ import annotations

from syncwright.domain.errors import NotFound
from syncwright.domain.sync import SyncSpec
from syncwright.storage.store import Store


class SyncService:
    def __init__(self, store: Store, workspace_id: str) -> None:
        self.store = store
        self.workspace_id = workspace_id

    def get(self, sync_id: str) -> SyncSpec:
        try:
            row = self.store.config.get("sync", sync_id)
        except NotFound:
            row = None
        if row is None or row["workspace_id"] != self.workspace_id or row["deleted_at"]:
            raise NotFound(f"no sync with id {sync_id}")
        return SyncSpec.from_row(row)

    def list(self) -> list[SyncSpec]:
        """Every sync of the workspace (enabled or not, not deleted), by name."""
        return self.store.config.list_syncs(self.workspace_id)
