"""syncwright: keep data in step between systems, with a report entry for every item.

The public surface is the connector SDK; everything else is internal.
"""

from syncwright.sdk import (
    BatchResult,
    Capabilities,
    Change,
    ChangeBatch,
    ConfigError,
    Confinement,
    ConnectorConfig,
    Destination,
    DestinationError,
    ItemResult,
    LocalPath,
    Operation,
    Publication,
    ReadAgain,
    ReadRequest,
    RunInfo,
    Source,
    SourceError,
    SyncwrightError,
    WriteMode,
    redact,
)

__version__ = "0.1.0"

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
