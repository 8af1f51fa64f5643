"""Every status and label of the domain, and the legal run transitions."""

from __future__ import annotations

from enum import StrEnum

from syncwright.domain.errors import IllegalTransition


class RunStatus(StrEnum):
    """Where a run is in its life."""

    SCHEDULED = "scheduled"
    """Planned by a schedule, not yet queued."""
    QUEUED = "queued"
    """Waiting for a worker, or behind a live run of the same sync."""
    QUERYING = "querying"
    """Reading the model from the source."""
    PREPARING = "preparing"
    """Comparing with what was delivered before and recording the change set."""
    IN_PROGRESS = "in_progress"
    """Writing changes to the destination."""
    SUCCEEDED = "succeeded"
    """Finished; every change was handled (some items may have failed alone)."""
    INCOMPLETE = "incomplete"
    """Finished with items still pending; the next run resumes them."""
    FAILED = "failed"
    """Stopped by an error; the reason is in infos.error."""
    ABORTED = "aborted"
    """Cancelled by a person or a timeout."""
    SKIPPED = "skipped"
    """Not run: another run of the sync was live, or its tick was missed (as configured)."""

    @property
    def is_live(self) -> bool:
        return self in LIVE_RUN_STATUSES

    @property
    def is_final(self) -> bool:
        return self in FINAL_RUN_STATUSES


LIVE_RUN_STATUSES = frozenset(
    {RunStatus.QUEUED, RunStatus.QUERYING, RunStatus.PREPARING, RunStatus.IN_PROGRESS}
)
FINAL_RUN_STATUSES = frozenset(
    {
        RunStatus.SUCCEEDED,
        RunStatus.INCOMPLETE,
        RunStatus.FAILED,
        RunStatus.ABORTED,
        RunStatus.SKIPPED,
    }
)

#: Runs that did not run: planned for later, or skipped (never "the last run").
NOT_RUN = frozenset({RunStatus.SCHEDULED, RunStatus.SKIPPED})

_ALLOWED: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.SCHEDULED: frozenset({RunStatus.QUEUED, RunStatus.ABORTED, RunStatus.SKIPPED}),
    RunStatus.QUEUED: frozenset({RunStatus.QUERYING, RunStatus.FAILED, RunStatus.ABORTED}),
    RunStatus.QUERYING: frozenset({RunStatus.PREPARING, RunStatus.FAILED, RunStatus.ABORTED}),
    RunStatus.PREPARING: frozenset(
        {RunStatus.IN_PROGRESS, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.ABORTED}
    ),
    RunStatus.IN_PROGRESS: frozenset(
        {RunStatus.SUCCEEDED, RunStatus.INCOMPLETE, RunStatus.FAILED, RunStatus.ABORTED}
    ),
}


def can_transition(current: RunStatus, new: RunStatus) -> bool:
    """True when a run may move from ``current`` to ``new`` (staying put is allowed)."""
    return current == new or new in _ALLOWED.get(current, frozenset())


def check_transition(current: RunStatus, new: RunStatus) -> None:
    if not can_transition(current, new):
        raise IllegalTransition(f"a run cannot go from {current.value} to {new.value}")


class EntryStatus(StrEnum):
    """Outcome of one item of one run, as shown in the sync report."""

    PENDING = "pending"
    """Waiting to be delivered, or being retried."""
    SENT = "sent"
    """Handed to a file or SFTP endpoint, awaiting confirmation."""
    OK = "ok"
    """The destination has it."""
    FAILED = "failed"
    """The destination refused it, or the retry policy gave up."""
    NOT_SENT = "not_sent"
    """Never sent: its run was cancelled (or timed out) first. The next run sends it, as it
    does any change not delivered; no retry of this run is coming (that is ``pending``)."""


class Operation(StrEnum):
    """What a change does to an item."""

    ADD = "add"
    """The item is new in the model."""
    CHANGE = "change"
    """The item's fields differ from what was last delivered."""
    REMOVE = "remove"
    """The item is gone from the model."""


class Trigger(StrEnum):
    """Who or what started a run."""

    MANUAL = "manual"
    """A person (button, CLI, API)."""
    SCHEDULE = "schedule"
    """An interval or cron schedule."""
    CHANGE = "change"
    """A configuration change."""
    AFTER = "after"
    """Another sync finished."""
    WEBHOOK = "webhook"
    """An inbound webhook."""
    RETRY = "retry"
    """An automatic retry of failed items."""
    RESYNC = "resync"
    """A resync of selected entries."""


class RunMode(StrEnum):
    """How much a run sends."""

    INCREMENTAL = "incremental"
    """Only what changed since the last run."""
    FULL = "full"
    """Everything, rebuilding the snapshot."""
    RESYNC = "resync"
    """Only selected items, as the model has them now (removed items are removed again)."""


class WriteMode(StrEnum):
    """What a sync does in its destination."""

    INSERT = "insert"
    """Insert new items only; changes and removals are skipped."""
    UPDATE = "update"
    """Update existing items only; an item missing in the destination fails."""
    UPSERT = "upsert"
    """Insert or update; removals are skipped."""
    MIRROR = "mirror"
    """Insert, update and delete so the destination mirrors the model."""

    def delivers(self, operation: Operation) -> bool:
        if self is WriteMode.INSERT:
            return operation is Operation.ADD
        if self is WriteMode.MIRROR:
            return True
        return operation is not Operation.REMOVE


class ChangeDetection(StrEnum):
    """How a sync finds what changed."""

    DIFF = "diff"
    """Hash every row and compare with the snapshot of what was delivered; sees deletes."""
    CURSOR = "cursor"
    """Read rows whose cursor column reached the saved cursor; cannot see deletes."""


class SyncHealth(StrEnum):
    """A sync's health, derived from its runs (never stored)."""

    PENDING = "pending"
    """Never ran."""
    HEALTHY = "healthy"
    """The last run succeeded with no failed item."""
    WARNING = "warning"
    """The last run was incomplete, was cancelled or timed out, or some items failed."""
    FAILED = "failed"
    """The last run failed (items failing alone make a warning, never this)."""
    DISABLED = "disabled"
    """The sync is turned off."""


def sync_health(enabled: bool, last: RunStatus | None, failed_items: int = 0) -> str:
    """A sync's health from whether it is on and its newest run's status (and failed items):
    a live run's own status while one goes, else a ``SyncHealth``."""
    if last is not None and last.is_live:
        return last.value
    if not enabled:
        return SyncHealth.DISABLED.value
    if last is None:
        return SyncHealth.PENDING.value
    if last is RunStatus.FAILED:
        return SyncHealth.FAILED.value
    if last in (RunStatus.INCOMPLETE, RunStatus.ABORTED) or failed_items:
        return SyncHealth.WARNING.value
    return SyncHealth.HEALTHY.value
