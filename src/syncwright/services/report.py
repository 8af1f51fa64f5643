"""The sync report: entries of runs, filtered."""

from __future__ import annotations

from syncwright.domain.entry import Entry
from syncwright.domain.statuses import EntryStatus
from syncwright.storage.entries_repo import ReportFilter
from syncwright.storage.store import Store


class ReportService:
    def __init__(self, store: Store, workspace_id: str) -> None:
        self.store = store
        self.workspace_id = workspace_id

    def entries(
        self,
        *,
        sync_name: str | None = None,
        run_id: str | None = None,
        status: EntryStatus | None = None,
        reference: str | None = None,
        limit: int = 100,
    ) -> list[Entry]:
        sync_id = (
            self.store.config.sync_by_name(self.workspace_id, sync_name).id if sync_name else None
        )
        return self.store.entries.list(
            ReportFilter(
                workspace_id=self.workspace_id,
                sync_id=sync_id,
                run_id=run_id,
                status=status,
                reference=reference,
                limit=limit,
            )
        )
