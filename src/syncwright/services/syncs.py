"""Reading a workspace's syncs by id: another workspace's sync is not found, as a missing one."""

from __future__ import annotations

from syncwright.domain.errors import NotFound
from syncwright.domain.sync import SyncSpec
from syncwright.storage.artifacts_repo import Artifact
from syncwright.storage.store import Store


class SyncService:
    def __init__(self, store: Store, workspace_id: str) -> None:
        self.store = store
        self.workspace_id = workspace_id

    def get(self, sync_id: str) -> SyncSpec:
        return SyncSpec.from_row(self.store.config.live("sync", self.workspace_id, sync_id))

    def list(self) -> list[SyncSpec]:
        """Every sync of the workspace (enabled or not, not deleted), by name."""
        return self.store.config.list_syncs(self.workspace_id)

    def latest_artifact(self, sync_id: str) -> Artifact:
        """The newest file the sync published (its constant "latest" location)."""
        found = self.store.artifacts.latest(self.get(sync_id).id)
        if found is None:
            raise NotFound(f"sync {sync_id} has published no file yet")
        return found

    def run_artifact(self, run_id: str) -> Artifact:
        """The file a run of this workspace published."""
        run = self.store.runs.get(run_id)
        found = (
            self.store.artifacts.for_run(run_id) if run.workspace_id == self.workspace_id else None
        )
        if found is None:
            raise NotFound(f"no file published by a run with id {run_id}")
        return found
