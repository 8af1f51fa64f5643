"""The wipe guard: refuse a run that would empty or mostly delete a destination."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class WipeGuard:
    """Settings of a sync that protect its destination from a broken model."""

    allow_empty: bool = False
    max_delete_share: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.max_delete_share <= 1:
            raise ValueError("max_delete_share must be between 0 and 1")

    def check(
        self, *, rows_read: int, delivered_before: int, removals: int, whole_model: bool = True
    ) -> str | None:
        """The reason to stop the run, or None when it may go on.

        ``delivered_before`` is how many items the destination holds from this sync (the
        snapshot); ``removals`` is how many of them this run would delete; ``whole_model`` is
        False when the run read only rows past a cursor, where no rows is normal.
        """
        if whole_model and rows_read == 0 and delivered_before > 0 and not self.allow_empty:
            return (
                f"the model returned no rows but {delivered_before} items were delivered before;"
                " refusing to treat that as a deletion of everything"
                " (set guard.allow_empty: true to allow it)"
            )
        if delivered_before and removals:
            share = removals / delivered_before
            if share > self.max_delete_share:
                return (
                    f"this run would delete {removals} of {delivered_before} items"
                    f" ({share:.0%}), more than the allowed {self.max_delete_share:.0%}"
                    " (raise guard.max_delete_share to allow it)"
                )
        return None
