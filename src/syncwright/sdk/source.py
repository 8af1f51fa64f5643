"""A source: declarative attributes plus one generator of Arrow batches or dict rows."""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Mapping

import pyarrow as pa

from syncwright.sdk.capabilities import Capabilities
from syncwright.sdk.config import ConnectorConfig
from syncwright.sdk.confinement import Confinement


@dataclass(frozen=True, kw_only=True)
class ReadRequest:
    """What the engine asks a source for: the model's query and, for cursor syncs, the cursor."""

    query: str
    primary_key: tuple[str, ...]
    cursor_column: str | None = None
    cursor_value: Any = None
    batch_size: int = 10_000
    #: Read only the primary key columns, of every row (ignoring the cursor): how a cursor
    #: sync sees rows removed from the model. Asked only of sources that declare ``keys``.
    keys_only: bool = False


class ReadAgain(Exception):
    """Raised by a source part-way through ``read`` when it has to start over another way
    (a fast reader met a value it cannot type, say): the engine forgets the rows received and
    calls ``read`` once more with the same request."""


class Source(ABC):
    """Reads a model. Never touches storage, statuses or retries: the engine does."""

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
    def check_query(cls, query: str) -> None:
        """Refuse a model query this source cannot run (raise ValueError with the reason)."""

    def check(self) -> None:
        """Test the connection (``syncwright check``); raise SourceError with the reason."""

    def describe(self, query: str) -> list[str] | None:
        """The model's column names, found without reading its rows (a SQL source runs the
        query for no row), or None when this source cannot tell before reading. Raise
        SourceError with the reason when the query cannot run. Asked when a model is
        applied, so a query that does not compile or lacks its primary key is refused
        then, not at its first run."""
        return None

    def count(self, request: ReadRequest) -> int | None:
        """How many rows the whole model has now (ignoring the cursor), or None when this
        source cannot tell without reading them (the default). A cursor sync that counts as
        many rows as it delivered before, plus the new ones its cursor found, has lost none,
        and skips reading the keys of every row (``keys_only``). Count exactly what ``read``
        would yield: the same query, the same rows; and answer None when a row's cursor
        (``request.cursor_column``) is empty, as such a row is never read past the cursor.
        Called on another thread while ``read`` runs: use a connection of its own."""
        return None

    @abstractmethod
    def read(self, request: ReadRequest) -> Iterator[pa.RecordBatch | dict[str, Any]]:
        """Yield the model's rows, as Arrow record batches (preferred) or dicts."""

    def close(self) -> None:
        """Release connections; called once the engine has read everything."""
