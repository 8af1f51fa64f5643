"""What services need from the engine, without knowing which one bootstrap chose."""

from __future__ import annotations

from typing import Protocol

from syncwright.domain.run import Run


class RunSubmitter(Protocol):
    def submit(self, run: Run) -> None:
        """Hand a queued run to the durable engine."""

    def cancel(self, run_id: str) -> None:
        """Stop a run's workflow (queued: removed from the queue; running: stopped at its
        next step)."""
