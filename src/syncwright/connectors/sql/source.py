"""Reads a model's SQL query from any SQLAlchemy URL, streaming Arrow record batches."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.elements import quoted_name

from syncwright.connectors.sql.errors import database_message
from syncwright.connectors.sql.urls import DatabaseUrlConfig, safe_url
from syncwright.domain.errors import SourceError
from syncwright.sdk import Capabilities, ReadAgain, ReadRequest, Source, sqlite_files
from syncwright.sdk.confinement import sqlite_path


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
        database = _existing_sqlite_file(self.config.url)
        release = sqlite_files.hold(database) if database is not None else _nothing
        engine = sa.create_engine(self.config.url)
        try:
            with engine.connect() as conn:
                conn.execute(sa.select(1))
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(database_message(exc)) from exc
        finally:
            engine.dispose()
            release()

    def describe(self, query: str) -> list[str]:
        """The model's column names: its query runs, read-only, for no row."""
        model = sa.text(query.strip().rstrip(";")).columns().subquery("syncwright_model")
        statement = sa.select(sa.literal_column("*")).select_from(model).where(sa.false())
        names, _ = self._once(statement)
        return names

    def count(self, request: ReadRequest) -> int | None:
        """The rows of the whole model: one ``count(*)`` over its query, read-only (the
        database counts; no row leaves it). None when a row's cursor is empty: such a row
        is never read past the cursor, so the count could not tell it from a removal. Safe
        while ``read`` runs on another thread (each opens its own connection)."""
        cursor = request.cursor_column
        text = sa.text(request.query.strip().rstrip(";"))
        model = text.columns(_name(cursor)) if cursor else text.columns()
        rows_of = model.subquery("syncwright_model")
        counts: list[Any] = [sa.func.count()]
        if cursor:
            counts.append(sa.func.count(rows_of.c[0]))
        statement = sa.select(*counts).select_from(rows_of)
        # Through the ADBC driver when it reads this file (it does while ``read`` runs:
        # one SQLite library per file per process, see syncwright.sdk.sqlite_files).
        path = _sqlite_file(self.config.url)
        adbc = sqlite_files.try_hold(path, "adbc") if path is not None else None
        if path is not None and adbc is not None:
            try:
                with contextlib.closing(_adbc_batches(path, statement, 1)) as batches:
                    batch = next(batches)
                row: list[Any] = [batch.column(i)[0].as_py() for i in range(batch.num_columns)]
            except Exception as exc:
                raise SourceError(f"{type(exc).__name__}: {exc}") from exc
            finally:
                adbc()
        else:
            row = list(self._once(statement)[1][0])
        total = int(row[0])
        if cursor and int(row[1]) != total:
            return None
        return total

    def _once(self, statement: sa.Executable) -> tuple[list[str], list[Any]]:
        """Run ``statement`` read-only, through Python's driver: its column names and rows."""
        _existing_sqlite_file(self.config.url)  # connecting would create an empty one
        plain = _sqlite_file(self.config.url)
        release = sqlite_files.hold(plain, "sqlite3") if plain is not None else _nothing
        try:
            try:
                engine = _read_only_engine(self.config.url, plain)
            except Exception as exc:
                raise SourceError(f"bad url {safe_url(self.config.url)}: {exc}") from exc
            try:
                with engine.connect() as conn:
                    return _fetch(conn, statement)
            except sa.exc.SQLAlchemyError as exc:
                raise SourceError(database_message(exc)) from exc
            finally:
                engine.dispose()
        finally:
            release()

    def read(self, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        _existing_sqlite_file(self.config.url)  # connecting would create an empty one
        statement = _statement(request)
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
                for batch in _adbc_batches(path, statement, request.batch_size):  # type: ignore[arg-type]
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
                    yield from _batches(conn, statement, request.batch_size)
            except sa.exc.SQLAlchemyError as exc:
                raise SourceError(database_message(exc)) from exc
            finally:
                engine.dispose()
        finally:
            release()


def _nothing() -> None:
    """Nothing to release."""


def _statement(request: ReadRequest) -> sa.Executable:
    """The model's query; for a cursor sync, its rows from the cursor on; for the keys of
    every row, their key columns. Names are quoted by the dialect it is compiled for."""
    model = sa.text(request.query.strip().rstrip(";"))
    if request.keys_only:
        keys = model.columns(*(_name(k) for k in request.primary_key)).subquery("syncwright_model")
        return sa.select(*keys.c)
    if request.cursor_column and request.cursor_value is not None:
        rows = model.columns(_name(request.cursor_column)).subquery("syncwright_model")
        # Untyped: the saved cursor of a timestamp column is its text, which the database
        # compares as a timestamp (a value typed as text would be compared as text, or refused).
        cursor = sa.bindparam("syncwright_cursor", request.cursor_value, type_=sa.types.NullType())
        return sa.select(sa.literal_column("*")).select_from(rows).where(rows.c[0] >= cursor)
    return model


def _name(column: str) -> sa.ColumnClause[Any]:
    """A column of the model's rows, quoted as it is spelled (whatever its case)."""
    return sa.column(quoted_name(column, quote=True))


def _compiled(statement: sa.Executable, dialect: sa.Dialect) -> tuple[str, Any]:
    """The SQL text and parameters for the driver of ``dialect``."""
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    values: Any = (
        tuple(compiled.params[name] for name in compiled.positiontup or [])
        if compiled.positional
        else dict(compiled.params)  # always a mapping: the compiled SQL escapes % as %%
    )
    return str(compiled), values


def _read_only(conn: sa.Connection) -> Any:
    """The driver's connection, in a read-only transaction: the model's query can change
    nothing (a SQLite file is opened read-only instead, see ``_read_only_engine``)."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    if conn.dialect.name == "postgresql":
        with raw.cursor() as first:
            first.execute("SET TRANSACTION READ ONLY")
    elif conn.dialect.name in ("mysql", "mariadb"):
        with raw.cursor() as first:
            first.execute("START TRANSACTION READ ONLY")
    return raw


def _fetch(conn: sa.Connection, statement: sa.Executable) -> tuple[list[str], list[Any]]:
    """The names of the columns ``statement`` gives, and its rows."""
    sql, values = _compiled(statement, conn.dialect)
    cursor = _read_only(conn).cursor()
    try:
        cursor.execute(sql, values)
        names = [d[0] for d in cursor.description or ()]
        return names, list(cursor.fetchall())
    finally:
        cursor.close()


def _batches(conn: sa.Connection, statement: sa.Executable, size: int) -> Iterator[pa.RecordBatch]:
    sql, values = _compiled(statement, conn.dialect)
    raw = _read_only(conn)
    dialect = conn.dialect.name
    # Cursors that stream: a named (server-side) one on PostgreSQL, an unbuffered one on
    # MySQL and MariaDB; sqlite3 cursors stream anyway.
    if dialect == "postgresql":
        cursor = raw.cursor(name="syncwright_read")
    elif dialect in ("mysql", "mariadb") and conn.dialect.driver == "pymysql":
        import pymysql.cursors

        cursor = raw.cursor(pymysql.cursors.SSCursor)
    else:
        cursor = raw.cursor()
    try:
        cursor.execute(sql, values)
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


def _existing_sqlite_file(url: str) -> str | None:
    """The file a SQLite URL opens (None for memory and for any other database); SourceError
    when there is no such file (connecting would create an empty one)."""
    try:
        backend = sa.engine.make_url(url).get_backend_name()
    except Exception:
        return None
    path = sqlite_path(url) if backend == "sqlite" else None
    if path is not None and not Path(path).exists():
        raise SourceError(f"no database file {path}")
    return path


def _sqlite_file(url: str) -> str | None:
    """The path of a SQLite database file named plainly (not a ``file:`` URI) and read
    through Python's sqlite3, or None for any other URL."""
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


def _adbc_batches(path: str, statement: sa.Executable, size: int) -> Iterator[pa.RecordBatch]:
    import adbc_driver_sqlite.dbapi as adbc

    sql, values = _compiled(statement, sqlite.dialect())
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
