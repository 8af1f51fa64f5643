"""A destination: receives a batch of changes and returns one result per change."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Mapping

from syncwright.sdk.capabilities import Capabilities
from syncwright.sdk.changes import ChangeBatch, ItemResult
from syncwright.sdk.config import ConnectorConfig


class Destination(ABC):
    """Writes changes. Never touches storage, statuses or retries: the engine does.

    ``write`` returns exactly one ``ItemResult`` per change, in order. A rejected item is a
    failed result with the destination's reason; raising means the whole batch failed.
    """

    type: ClassVar[str]
    config_class: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    supports: ClassVar[Capabilities] = Capabilities()

    def __init__(self, config: Mapping[str, Any] | ConnectorConfig) -> None:
        self.config = (
            config if isinstance(config, ConnectorConfig) else self.config_class.parse(config)
        )

    @abstractmethod
    def write(self, batch: ChangeBatch) -> list[ItemResult]:
        """Apply the batch and say what happened to each change."""

    def close(self) -> None:
        """Release connections; called when the engine is done with this destination."""
