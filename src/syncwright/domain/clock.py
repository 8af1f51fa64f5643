"""Time in UTC, the only time the store keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """Attach UTC to a naive timestamp read back from SQLite."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
