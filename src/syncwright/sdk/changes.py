"""The changes a destination receives and the per-item results it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syncwright.domain.statuses import EntryStatus, Operation, WriteMode


@dataclass(frozen=True, kw_only=True)
class Change:
    """One item to write: its operation, its key fields and (unless removed) all its fields."""

    operation: Operation
    key: dict[str, Any]
    fields: dict[str, Any] | None = None
    #: The item's reference (e.g. its SKU), known for removed items too.
    reference: str | None = None


@dataclass(frozen=True, kw_only=True)
class Column:
    """A column of the model, with its Arrow type name (e.g. ``int64``, ``string``)."""

    name: str
    type: str


@dataclass(frozen=True, kw_only=True)
class ChangeBatch:
    """A batch of changes for one destination, in the order they must be applied."""

    changes: list[Change]
    write_mode: WriteMode
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...] = field(default=())
    #: The run this batch belongs to and its number in the run, from 0: a destination that
    #: stages files can name them by these, so a replayed batch overwrites its own part.
    run_id: str = ""
    index: int = 0
    #: For a destination that takes the whole model each run (``wants_full_model``): the
    #: model's rows that did not change, as fields. Write them along with the changes; they
    #: are no changes, so they get no result and no entry.
    unchanged: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.changes)


@dataclass(frozen=True, kw_only=True)
class ItemResult:
    """What happened to one change: ok, sent (awaiting confirmation) or failed."""

    status: EntryStatus
    endpoint_id: str | None = None
    error: str | None = None
    retryable: bool = False
    #: Seconds the endpoint asked to wait before trying again (e.g. HTTP ``Retry-After``).
    retry_after: float | None = None

    @classmethod
    def ok(cls, endpoint_id: str | None = None) -> ItemResult:
        if endpoint_id is None and cls is ItemResult:
            return _OK  # immutable, so one will do for every item
        return cls(status=EntryStatus.OK, endpoint_id=endpoint_id)

    @classmethod
    def sent(cls, endpoint_id: str | None = None) -> ItemResult:
        if endpoint_id is None and cls is ItemResult:
            return _SENT
        return cls(status=EntryStatus.SENT, endpoint_id=endpoint_id)

    @classmethod
    def failed(
        cls, error: str, *, retryable: bool = False, retry_after: float | None = None
    ) -> ItemResult:
        """``retryable``: worth trying again later (timeouts, 5xx, 429), as the sync's retry
        policy decides; otherwise the item fails at once (a rejected value, a 4xx)."""
        return cls(
            status=EntryStatus.FAILED, error=error, retryable=retryable, retry_after=retry_after
        )


_OK = ItemResult(status=EntryStatus.OK)
_SENT = ItemResult(status=EntryStatus.SENT)
