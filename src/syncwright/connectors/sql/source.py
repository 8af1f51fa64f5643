"""Reads a model's SQL query from any SQLAlchemy URL, streaming Arrow record batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import sqlalchemy as sa

from syncwright.connectors.sql.errors import database_message
from syncwright.connectors.sql.urls import resolve_sqlite_path, safe_url
from syncwright.domain.errors import SourceError
from syncwright.sdk import Capabilities, ConnectorConfig, ReadRequest, Source


class SqlSourceConfig(ConnectorConfig):
    url: str

    def resolved(self, base_dir: Path) -> SqlSourceConfig:
        return self.model_copy(update={"url": resolve_sqlite_path(self.url, base_dir)})


def _column(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # SQLite lets one column hold several types; keep them all, as text.
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


class SqlSource(Source):
    type = "sql"
    config_class = SqlSourceConfig
    supports = Capabilities(incremental=True, full=True)
    config: SqlSourceConfig

    @classmethod
    def check_query(cls, query: str) -> None:
        if not query.strip():
            raise ValueError("a sql source needs a query (e.g. SELECT * FROM products)")

    def check(self) -> None:
        database = sa.engine.make_url(self.config.url).database or ":memory:"
        on_file = self.config.url.startswith("sqlite") and database != ":memory:"
        if on_file and not Path(database).exists():  # connecting would create an empty one
            raise SourceError(f"no database file {database}")
        engine = sa.create_engine(self.config.url)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(database_message(exc)) from exc
        finally:
            engine.dispose()

    def read(self, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        sql = request.query.strip().rstrip(";")
        params: dict[str, Any] = {}
        if request.cursor_column and request.cursor_value is not None:
            sql = (
                f"SELECT * FROM ({sql}) AS syncwright_model"
                f" WHERE {_quote(request.cursor_column)} >= :syncwright_cursor"
            )
            params["syncwright_cursor"] = request.cursor_value
        try:
            engine = sa.create_engine(self.config.url)
        except Exception as exc:
            raise SourceError(f"bad url {safe_url(self.config.url)}: {exc}") from exc
        try:
            with engine.connect() as conn:
                result = conn.execution_options(
                    stream_results=True, yield_per=request.batch_size
                ).execute(sa.text(sql), params)
                names = list(result.keys())
                for part in result.partitions(request.batch_size):
                    columns = list(zip(*part)) if part else [() for _ in names]
                    yield pa.RecordBatch.from_arrays(
                        [_column(list(col)) for col in columns], names=names
                    )
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(database_message(exc)) from exc
        finally:
            engine.dispose()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
