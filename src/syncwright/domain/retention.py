"""How long the report keeps entries, payloads and runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from syncwright.domain.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class Retention:
    """Entries live ``entry_days``; their payloads (the item as sent) only ``payload_hours``.
    Runs older than ``entry_days`` are hidden (soft-deleted), then purged ``grace_days`` later."""

    entry_days: float = 15
    payload_hours: float = 72
    grace_days: float = 1

    def __post_init__(self) -> None:
        for name in ("entry_days", "payload_hours", "grace_days"):
            if getattr(self, name) < 0:
                raise ConfigError("must be 0 or more", field=name)

    def entries_before(self, now: datetime) -> datetime:
        return now - timedelta(days=self.entry_days)

    def payloads_before(self, now: datetime) -> datetime:
        return now - timedelta(hours=self.payload_hours)

    def runs_purged_before(self, now: datetime) -> datetime:
        return now - timedelta(days=self.grace_days)
