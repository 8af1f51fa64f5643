"""A destination: receives a batch of changes and returns one result per change."""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Mapping

from syncwright.sdk.capabilities import Capabilities
from syncwright.sdk.changes import BatchResult, ChangeBatch, Column, ItemResult
from syncwright.sdk.config import ConnectorConfig
from syncwright.sdk.confinement import Confinement


@dataclass(frozen=True, kw_only=True)
class RunInfo:
    """The run a destination publishes for."""

    run_id: str
    sync_name: str
    started_at: datetime
    #: The model's columns, so even an empty file can carry its header.
    columns: tuple[Column, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Publication:
    """A file a destination published for a run (a feed, an upload), kept as the run's artifact.

    ``awaiting_confirmation``: the endpoint has it but has not confirmed; the engine calls
    ``confirm`` every ``confirm_interval`` seconds until it does or ``confirm_timeout`` passes.
    ``handle`` is whatever ``confirm`` needs, as JSON values (it survives a restart).
    """

    location: str
    size: int
    checksum: str
    rows: int
    content_type: str
    latest: str | None = None
    awaiting_confirmation: bool = False
    confirm_timeout: float = 0.0
    confirm_interval: float = 5.0
    handle: dict[str, Any] = field(default_factory=dict)


class Destination(ABC):
    """Writes changes. Never touches storage, statuses or retries: the engine does.

    ``write`` returns exactly one ``ItemResult`` per change, in order, or a ``BatchResult``
    saying it for the whole batch at once (all ok; or ok except these indexes, each with its
    result). A rejected item is a failed result with the destination's reason; raising means
    the whole batch failed. The batch gives its changes as Arrow (``batch.table``) and as
    ``Change`` objects (``batch.changes``): use whichever suits the system written to.
    Destinations that produce a file per run (``supports.file_output``) return ``sent`` from
    ``write`` and build the file in ``publish``.
    """

    type: ClassVar[str]
    # ``builtins.type``: ``type`` is the class's own attribute here.
    config_class: ClassVar[builtins.type[ConnectorConfig]] = ConnectorConfig
    supports: ClassVar[Capabilities] = Capabilities()
    #: What this connector may reach on this machine; the platform sets it when it builds the
    #: connector (unrestricted for one built by hand). Check with it every local path found
    #: while running (``self.confinement.check_path(path, field="path")``).
    confinement: Confinement = Confinement()

    def __init__(self, config: Mapping[str, Any] | ConnectorConfig) -> None:
        self.config = (
            config if isinstance(config, ConnectorConfig) else self.config_class.parse(config)
        )

    @classmethod
    def wants_full_model(cls, config: Any) -> bool:
        """True when every run must receive every row, not only the changes (a full feed):
        the changes come as usual, each with its result and entry, and the rows that did not
        change come along in ``ChangeBatch.unchanged``. What the destination holds then
        mirrors the model, so removals are delivered whatever the sync's write mode."""
        return False

    def check(self) -> None:
        """Test the connection (``syncwright check``); raise DestinationError with the reason."""

    @abstractmethod
    def write(self, batch: ChangeBatch) -> list[ItemResult] | BatchResult:
        """Apply the batch and say what happened to each change."""

    def publish(self, run: RunInfo) -> Publication | None:
        """Called once after the run's last batch; file destinations publish their file here.
        Raising fails every item the run sent."""
        return None

    def confirm(self, publication: Publication) -> bool:
        """Whether the endpoint has confirmed a publication awaiting confirmation."""
        return True

    def close(self) -> None:
        """Release connections; called when the engine is done with this destination."""
