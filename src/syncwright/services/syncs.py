"""Reading a workspace's syncs by id: another workspace's sync is not found, as a missing one.
The overview adds what a person scans syncs by: health, last and next run, who made them."""

from __future__ import annotations

from dataclasses import dataclass

from syncwright.domain.artifacts import Artifact
from syncwright.domain.errors import NotFound
from syncwright.domain.run import Run
from syncwright.domain.statuses import sync_health
from syncwright.domain.sync import SyncSpec
from syncwright.storage.store import Store


@dataclass(frozen=True)
class SyncSummary:
    """A sync as the overview shows it."""

    sync: SyncSpec
    model: str
    destination: str
    destination_type: str
    #: A ``SyncHealth`` value, or a live run's status while one goes.
    health: str
    last_run: Run | None
    next_run: Run | None
    created_by: str | None


class SyncService:
    def __init__(self, store: Store, workspace_id: str) -> None:
        self.store = store
        self.workspace_id = workspace_id

    def get(self, sync_id: str) -> SyncSpec:
        return SyncSpec.from_row(self.store.config.live("sync", self.workspace_id, sync_id))

    def named(self, name: str) -> SyncSpec:
        """The workspace's sync of this name."""
        return self.store.config.sync_by_name(self.workspace_id, name)

    def list(self) -> list[SyncSpec]:
        """Every sync of the workspace (enabled or not, not deleted), by name."""
        return self.store.config.list_syncs(self.workspace_id)

    def overview(self, syncs: list[SyncSpec] | None = None) -> list[SyncSummary]:
        """The syncs (all, or those given) with health, model, destination and runs: a
        handful of queries whatever their number."""
        chosen = self.list() if syncs is None else syncs
        models = {r["id"]: r["name"] for r in self.store.config.rows("model", self.workspace_id)}
        destinations = {
            r["id"]: r for r in self.store.config.rows("destination", self.workspace_id)
        }
        last = self.store.runs.latest_per_sync(self.workspace_id)
        planned = self.store.runs.next_planned(self.workspace_id)
        creators = {str(s.created_by_user_id) for s in chosen if s.created_by_user_id}
        # A user gone: no name shown.
        emails = self.store.accounts.emails(creators) if creators else {}
        found = []
        for s in chosen:
            run = last.get(s.id)
            destination = destinations.get(s.destination_id, {})
            found.append(
                SyncSummary(
                    sync=s,
                    model=models.get(s.model_id, "?"),
                    destination=destination.get("name", "?"),
                    destination_type=destination.get("type", "?"),
                    health=sync_health(
                        s.enabled,
                        run.status if run else None,
                        run.counters.failed if run else 0,
                    ),
                    last_run=run,
                    next_run=planned.get(s.id),
                    created_by=emails.get(s.created_by_user_id or ""),
                )
            )
        return found

    def summary(self, sync_id: str) -> SyncSummary:
        return self.overview([self.get(sync_id)])[0]

    def latest_artifact(self, sync_id: str) -> Artifact:
        """The newest file the sync published (its constant "latest" location)."""
        found = self.store.artifacts.latest(self.get(sync_id).id)
        if found is None:
            raise NotFound(f"sync {sync_id} has published no file yet")
        return found

    def latest_artifact_or_none(self, sync_id: str) -> Artifact | None:
        return self.store.artifacts.latest(self.get(sync_id).id)

    def run_artifact(self, run_id: str) -> Artifact:
        """The file a run of this workspace published."""
        run = self.store.runs.get(run_id)
        found = (
            self.store.artifacts.for_run(run_id) if run.workspace_id == self.workspace_id else None
        )
        if found is None:
            raise NotFound(f"no file published by a run with id {run_id}")
        return found
