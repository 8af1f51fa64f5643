"""The run counters and the accounting identity that keeps every item accounted for."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

COUNTER_NAMES = (
    "read",
    "unchanged",
    "added",
    "changed",
    "removed",
    "skipped",
    "ok",
    "sent",
    "pending",
    "failed",
    "not_sent",
)


@dataclass(frozen=True, kw_only=True)
class Counters:
    """How many items a run read, found changed and delivered.

    ``read`` counts rows read from the model. Items removed from the model are not read (they
    exist only in the snapshot of what was delivered), so the identities are::

        read = unchanged + added + changed
        added + changed + removed = ok + sent + pending + failed + skipped + not_sent
    """

    read: int = 0
    unchanged: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    skipped: int = 0
    ok: int = 0
    sent: int = 0
    pending: int = 0
    failed: int = 0
    #: Items a cancel (or a timeout) left without an attempt.
    not_sent: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Counters:
        return cls(**{name: int(row.get(name) or 0) for name in COUNTER_NAMES})

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def changes(self) -> int:
        return self.added + self.changed + self.removed

    @property
    def outcomes(self) -> int:
        return self.ok + self.sent + self.pending + self.failed + self.skipped + self.not_sent

    def problems(self) -> list[str]:
        """The identities that do not hold; empty when every item is accounted for."""
        found = []
        if self.read != self.unchanged + self.added + self.changed:
            found.append(
                f"read {self.read} != unchanged {self.unchanged} + added {self.added}"
                f" + changed {self.changed}"
            )
        if self.changes != self.outcomes:
            found.append(
                f"added + changed + removed = {self.changes} but ok + sent + pending"
                f" + failed + skipped + not sent = {self.outcomes}"
            )
        return found
