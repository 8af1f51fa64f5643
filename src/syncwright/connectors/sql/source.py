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
    supports = Capabilities(incremental=True, full=True, keys=True)
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
        if request.keys_only:
            columns = ", ".join(_quote(k) for k in request.primary_key)
            sql = f"SELECT {columns} FROM ({sql}) AS syncwright_model"
        elif request.cursor_column and request.cursor_value is not None:
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
                # The driver's own cursor: rows go straight from it into Arrow columns, with
                # none of the per-row work of result objects.
                yield from _batches(conn, sql, params, request.batch_size)
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(database_message(exc)) from exc
        finally:
            engine.dispose()


def _batches(
    conn: sa.Connection, sql: str, params: dict[str, Any], size: int
) -> Iterator[pa.RecordBatch]:
    compiled = sa.text(sql).bindparams(**params).compile(dialect=conn.dialect)
    positional = compiled.positiontup or []
    values: Any = (
        tuple(compiled.params[name] for name in positional)
        if compiled.positional
        else dict(compiled.params)  # always a mapping: the compiled SQL escapes % as %%
    )
    raw = conn.connection.dbapi_connection
    assert raw is not None
    # On PostgreSQL a named (server-side) cursor streams; sqlite3 cursors stream anyway.
    cursor = (
        raw.cursor(name="syncwright_read") if conn.dialect.name == "postgresql" else raw.cursor()
    )
    try:
        cursor.execute(str(compiled), values)
        names = [d[0] for d in cursor.description or ()]
        while True:
            rows = cursor.fetchmany(size)
            if not rows:
                break
            columns = list(zip(*rows))
            yield pa.RecordBatch.from_arrays([_column(list(c)) for c in columns], names=names)
    finally:
        cursor.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
