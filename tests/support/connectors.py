"""Small working connectors used by tests: an append-only destination kept in memory."""

from __future__ import annotations

from typing import ClassVar

from syncwright.sdk import Capabilities, ChangeBatch, Destination, ItemResult


class AppendOnlyDestination(Destination):
    """Keeps rows in memory and can only add them (no deletes, no updates)."""

    type = "append_only"
    supports = Capabilities(deletes=False, updates=False)
    rows: ClassVar[list[dict]] = []

    def write(self, batch: ChangeBatch) -> list[ItemResult]:
        self.rows.extend(change.fields or {} for change in batch.changes)
        return [ItemResult.ok() for _ in batch.changes]
