"""What a connector author imports: sources, destinations, changes, results, config, errors."""

from syncwright.domain.errors import ConfigError, DestinationError, SourceError, SyncwrightError
from syncwright.domain.statuses import Operation, WriteMode
from syncwright.sdk.capabilities import Capabilities
from syncwright.sdk.changes import BatchResult, Change, ChangeBatch, ItemResult
from syncwright.sdk.config import ConnectorConfig, redact
from syncwright.sdk.confinement import Confinement, LocalPath
from syncwright.sdk.destination import Destination, Publication, RunInfo
from syncwright.sdk.source import ReadAgain, ReadRequest, Source

__all__ = [
    "BatchResult",
    "Capabilities",
    "Change",
    "ChangeBatch",
    "ConfigError",
    "Confinement",
    "ConnectorConfig",
    "Destination",
    "DestinationError",
    "ItemResult",
    "LocalPath",
    "Operation",
    "Publication",
    "ReadAgain",
    "ReadRequest",
    "RunInfo",
    "Source",
    "SourceError",
    "SyncwrightError",
    "WriteMode",
    "redact",
]
