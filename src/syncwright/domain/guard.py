"""The guard: refuse a run that would empty or mostly delete a destination, or pause one
that would change more of it than the sync allows until an operator approves."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class WipeGuard:
    """Settings of a sync that protect its destination from a broken model."""

    allow_empty: bool = False
    max_delete_share: float = 0.5
    #: The run pauses (fails, awaiting an operator's approval) when more than this share of
    #: the delivered items would change or go. None: no limit.
    max_change_share: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.max_delete_share <= 1:
            raise ValueError("max_delete_share must be between 0 and 1")
        if self.max_change_share is not None and not 0 <= self.max_change_share <= 1:
            raise ValueError("max_change_share must be between 0 and 1")

    def check(
        self,
        *,
        rows_read: int,
        delivered_before: int,
        removals: int,
        whole_model: bool = True,
        changes: int = 0,
    ) -> str | None:
        """The reason to stop the run, or None when it may go on.

        ``delivered_before`` is how many items the destination holds from this sync (the
        snapshot); ``removals`` is how many of them this run would delete; ``whole_model`` is
        False when the run read only rows past a cursor, where no rows is normal; ``changes``
        is how many delivered items it would change or remove.
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
        if self.max_change_share is not None and delivered_before and changes:
            share = changes / delivered_before
            if share > self.max_change_share:
                return (
                    f"this run would change or remove {changes} of {delivered_before} items"
                    f" ({share:.0%}), more than the allowed {self.max_change_share:.0%}"
                    " (guard.max_change_share); an operator can approve it and go on"
                )
        return None
