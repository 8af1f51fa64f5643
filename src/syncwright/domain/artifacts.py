"""An artifact: a file a run published (a feed), with where it is and what it holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from syncwright.domain.clock import as_utc


@dataclass(frozen=True, kw_only=True)
class Artifact:
    id: str
    run_id: str
    sync_id: str
    location: str
    latest: str | None
    size: int
    checksum: str
    rows: int
    content_type: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Artifact:
        values = {name: row[name] for name in cls.__dataclass_fields__}
        values["created_at"] = as_utc(row["created_at"])
        return cls(**values)
