"""Questions to the sync report: which entries, in which order, from which page on."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncwright.domain.entry import Entry
from syncwright.domain.errors import ConfigError
from syncwright.domain.statuses import EntryStatus, Operation

#: Columns the report sorts by; every order ends with the entry id, so it is total and a page
#: boundary (the keyset) is one value and one id.
SORTABLE = (
    "id",
    "created_at",
    "updated_at",
    "reference",
    "system",
    "sync_id",
    "run_id",
    "source_id",
    "endpoint_id",
    "operation",
    "status",
    "attempts",
    "error",
)
TIME_COLUMNS = frozenset({"created_at", "updated_at"})
#: Sorted as if empty were "" so that every entry has a place in the order.
NULLABLE_SORTS = frozenset({"endpoint_id", "error"})

#: The columns of an exported report, in this order.
CSV_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "sync_id",
    "sync",
    "run_id",
    "system",
    "reference",
    "source_id",
    "endpoint_id",
    "operation",
    "status",
    "attempts",
    "error",
    "error_group",
    "retry_of",
)
LATEST_COLUMNS = ("latest_status", "latest_at")

DEFAULT_DAYS = 5
DEFAULT_RETENTION_DAYS = 15


@dataclass(frozen=True, kw_only=True)
class EntryFilter:
    """Which entries: every field narrows the selection; empty fields do not."""

    workspace_id: str
    sync_ids: tuple[str, ...] = ()
    run_id: str | None = None
    statuses: tuple[EntryStatus, ...] = ()
    operations: tuple[Operation, ...] = ()
    system: str | None = None
    reference: str | None = None
    #: Match references starting with ``reference`` instead of equal to it.
    prefix: bool = False
    error_group: str | None = None
    entry_ids: tuple[int, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    #: Only entries that are their item's newest (whatever the other fields say: with a
    #: status, the items whose latest outcome is that status).
    latest_only: bool = False


@dataclass(frozen=True, kw_only=True)
class ReportQuery:
    """A filter, an order and a page."""

    filter: EntryFilter
    sort: str = "id"
    descending: bool = True
    after: str | None = None
    limit: int = 100
    #: Add each item's newest status across runs (``latest_status``, ``latest_at``).
    latest: bool = False

    def __post_init__(self) -> None:
        if self.sort not in SORTABLE:
            raise ConfigError(
                f"cannot sort by {self.sort!r}; one of {', '.join(SORTABLE)}", field="sort"
            )
        if not 1 <= self.limit <= 10_000:
            raise ConfigError("must be between 1 and 10000", field="limit")


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    #: Pass as ``after`` to get the next page; None on the last page.
    next: str | None = None


@dataclass(frozen=True, kw_only=True)
class ErrorGroup:
    """Failed entries sharing a normalised reason."""

    group: str
    count: int
    sample: Entry
    references: list[str] = field(default_factory=list)


def encode_cursor(sort: str, entry: Entry) -> str:
    value: Any = getattr(entry, sort)
    if value is None and sort in NULLABLE_SORTS:
        value = ""
    if isinstance(value, datetime):
        value = value.isoformat()
    elif hasattr(value, "value"):
        value = value.value
    raw = json.dumps([sort, value, entry.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: str, token: str) -> tuple[Any, int]:
    """The (value, id) a page ends with; refused if it belongs to another order."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        name, value, last_id = json.loads(raw)
        if name != sort or not isinstance(last_id, int):
            raise ValueError("another order")
        if sort in TIME_COLUMNS:
            value = datetime.fromisoformat(value)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"not a page cursor of a report sorted by {sort} ({exc})", field="after"
        ) from None
    return value, last_id
