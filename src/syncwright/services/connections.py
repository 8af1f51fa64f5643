"""A workspace's sources, models and destinations, read by id with their secrets masked; a
model's first rows; a connection test. Another workspace's object is not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from syncwright.connectors.registry import ConnectorRegistry
from syncwright.domain.errors import SourceError
from syncwright.domain.sync import ConnectionSpec, ModelSpec
from syncwright.sdk.source import ReadAgain, ReadRequest
from syncwright.services.apply import ConfigService
from syncwright.storage.store import Store

#: At most this many rows in a model preview.
PREVIEW_LIMIT = 100


@dataclass(frozen=True, kw_only=True)
class Connection:
    """A source or destination as shown to people and programs: secrets masked."""

    spec: ConnectionSpec
    config: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Preview:
    """A model's first rows, as JSON-ready values."""

    columns: list[str]
    rows: list[dict[str, Any]]


class ConnectionService:
    def __init__(self, store: Store, connectors: ConnectorRegistry, workspace_id: str) -> None:
        self.store = store
        self.connectors = connectors
        self.workspace_id = workspace_id

    def _row(self, kind: str, object_id: str) -> dict[str, Any]:
        return self.store.config.live(kind, self.workspace_id, object_id)

    def _rows(self, kind: str) -> list[dict[str, Any]]:
        return self.store.config.rows(kind, self.workspace_id)

    def _public(self, kind: str, spec: ConnectionSpec) -> Connection:
        cls = (
            self.connectors.source_class(spec.type)
            if kind == "source"
            else self.connectors.destination_class(spec.type)
        )
        return Connection(spec=spec, config=cls.config_class.parse(spec.config).public())

    def sources(self) -> list[Connection]:
        return [self._public("source", ConnectionSpec.from_row(r)) for r in self._rows("source")]

    def source(self, source_id: str) -> Connection:
        return self._public("source", ConnectionSpec.from_row(self._row("source", source_id)))

    def destinations(self) -> list[Connection]:
        return [
            self._public("destination", ConnectionSpec.from_row(r))
            for r in self._rows("destination")
        ]

    def destination(self, destination_id: str) -> Connection:
        row = self._row("destination", destination_id)
        return self._public("destination", ConnectionSpec.from_row(row))

    def models(self) -> list[ModelSpec]:
        return [ModelSpec.from_row(r) for r in self._rows("model")]

    def model(self, model_id: str) -> ModelSpec:
        return ModelSpec.from_row(self._row("model", model_id))

    def check(self, kind: str, object_id: str) -> str | None:
        """Connect to a stored source or destination: the reason it fails, or None."""
        spec = ConnectionSpec.from_row(self._row(kind, object_id))
        configs = ConfigService(self.store, self.connectors, self.workspace_id)
        return configs.test_connection(kind, spec.type, spec.config)

    def preview(self, model_id: str, limit: int = 20) -> Preview:
        """The model's first ``limit`` rows (at most PREVIEW_LIMIT), read from its source."""
        model = self.model(model_id)
        spec = ConnectionSpec.from_row(self._row("source", model.source_id))
        source = self.connectors.source(spec.type, spec.config, where=f"sources.{spec.name}")
        limit = max(1, min(limit, PREVIEW_LIMIT))
        request = ReadRequest(query=model.query, primary_key=model.primary_key, batch_size=limit)
        rows: list[dict[str, Any]] = []
        try:
            try:
                rows = _first_rows(source.read(request), limit)
            except ReadAgain:
                rows = _first_rows(source.read(request), limit)
        except SourceError:
            raise
        except Exception as exc:  # the source's own failure is the answer
            raise SourceError(f"source {spec.name!r}: {exc}") from exc
        finally:
            source.close()
        columns = list(rows[0]) if rows else []
        return Preview(columns=columns, rows=[{k: _plain(v) for k, v in r.items()} for r in rows])


def _first_rows(batches: Any, limit: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for batch in batches:
        if isinstance(batch, dict):
            rows.append(batch)
        else:
            rows.extend(batch.slice(0, limit - len(rows)).to_pylist())
        if len(rows) >= limit:
            break
    return rows[:limit]


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value
