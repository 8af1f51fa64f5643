"""What the engine's steps need, built once by bootstrap and passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from syncwright.connectors.registry import ConnectorRegistry
from syncwright.sdk.destination import Destination
from syncwright.storage.store import Store


@dataclass
class Runtime:
    store: Store
    connectors: ConnectorRegistry
    work_dir: Path
    runner: str
    #: Destinations open for runs in progress in this process, so batches reuse connections.
    open_destinations: dict[str, Destination] = field(default_factory=dict)

    def release(self, run_id: str) -> None:
        destination = self.open_destinations.pop(run_id, None)
        if destination is not None:
            destination.close()
