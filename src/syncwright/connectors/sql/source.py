"""Reads a model's SQL query from any SQLAlchemy URL, streaming Arrow record batches."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import sqlalchemy as sa

from syncwright.connectors.sql.errors import database_message
from syncwright.connectors.sql.urls import DatabaseUrlConfig, safe_url
from syncwright.domain.errors import SourceError
from syncwright.sdk import Capabilities, ReadAgain, ReadRequest, Source, sqlite_files


class SqlSourceConfig(DatabaseUrlConfig):
    """A database to read models from: its ``url``."""


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
    #: Set once the ADBC reader gave up on this source's rows: read them through Python.
    _typed_by_python = False

    @classmethod
    def check_query(cls, query: str) -> None:
        if not query.strip():
            raise ValueError("a sql source needs a query (e.g. SELECT * FROM products)")

    def check(self) -> None:
        database = sa.engine.make_url(self.config.url).database or ":memory:"
        on_file = self.config.url.startswith("sqlite") and database != ":memory:"
        if on_file and not Path(database).exists():  # connecting would create an empty one
            raise SourceError(f"no database file {database}")
        release = sqlite_files.hold(database) if on_file else _nothing
        engine = sa.create_engine(self.config.url)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(database_message(exc)) from exc
        finally:
            engine.dispose()
            release()

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
        path = _sqlite_file(self.config.url)
        # SQLite files are read by the ADBC driver, straight into Arrow columns, unless
        # Python's sqlite3 has the file open in this process (a destination writing it): one
        # SQLite library per file per process (see syncwright.sdk.sqlite_files).
        adbc = (
            sqlite_files.try_hold(path, "adbc")
            if path is not None and not self._typed_by_python
            else None
        )
        if adbc is not None:
            # The driver types a column from its first rows; a later value of another type
            # (SQLite allows it) sends the read back to the path below, which types each
            # batch from its own values (a column with mixed values in a batch becomes text).
            sent = False
            try:
                for batch in _adbc_batches(path, sql, params, request.batch_size):  # type: ignore[arg-type]
                    sent = True
                    yield batch
                return
            except Exception as exc:
                self._typed_by_python = True
                if sent:
                    raise ReadAgain(f"{type(exc).__name__}: {exc}") from exc
            finally:
                adbc()
        release = sqlite_files.hold(path, "sqlite3") if path is not None else _nothing
        try:
            try:
                engine = _read_only_engine(self.config.url, path)
            except Exception as exc:
                raise SourceError(f"bad url {safe_url(self.config.url)}: {exc}") from exc
            try:
                with engine.connect() as conn:
                    # The driver's own cursor: rows go straight from it into Arrow columns,
                    # with none of the per-row work of result objects.
                    yield from _batches(conn, sql, params, request.batch_size)
            except sa.exc.SQLAlchemyError as exc:
                raise SourceError(database_message(exc)) from exc
            finally:
                engine.dispose()
        finally:
            release()


def _nothing() -> None:
    """Nothing to release."""


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
    if conn.dialect.name == "postgresql":
        # The model's query runs in a read-only transaction: it can change nothing.
        with raw.cursor() as first:
            first.execute("SET TRANSACTION READ ONLY")
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


def _read_only_engine(url: str, sqlite_file: str | None) -> sa.Engine:
    """An engine for reading a model: a SQLite file is opened read-only (``mode=ro``), so a
    model's query cannot write to it; PostgreSQL reads in a read-only transaction (above)."""
    if sqlite_file is None:
        return sa.create_engine(url)
    uri = Path(sqlite_file).resolve().as_uri() + "?mode=ro"
    return sa.create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)
    )


def _sqlite_file(url: str) -> str | None:
    """The path of a SQLite database file, or None for any other URL."""
    try:
        parsed = sa.engine.make_url(url)
    except Exception:
        return None
    database = parsed.database
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite") or not database:
        return None
    if database == ":memory:" or database.startswith("file:") or not Path(database).exists():
        return None
    return database


def _adbc_batches(
    path: str, sql: str, params: dict[str, Any], size: int
) -> Iterator[pa.RecordBatch]:
    import adbc_driver_sqlite.dbapi as adbc

    # The named parameter (only ever the cursor) becomes SQLite's positional one.
    values = tuple(params.values())
    for name in params:
        sql = sql.replace(f":{name}", "?")
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    with adbc.connect(uri) as conn, conn.cursor() as cursor:
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(size)})
        cursor.execute(sql, values or None)
        reader = cursor.fetch_record_batch()
        if any(pa.types.is_binary(field.type) for field in reader.schema):
            # Mixed values in a column come as bytes: let the Python path type them as text.
            raise ReadAgain("a column holds values of several types")
        for batch in reader:
            if batch.num_rows:
                yield batch


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
