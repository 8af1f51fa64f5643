"""Writes changes into a SQL table: insert, update, upsert or mirror (with deletes).

A batch is applied in one transaction with bulk statements (see ``statements``). When the
database rejects a row's values, the batch is split under savepoints until the rejected rows
stand alone: each fails with the database's message and every other row still lands. Any
other error fails the batch: one about the connection may pass (the engine tries the batch
again), one about the statement (a missing table, a permission) fails the run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from syncwright.connectors.sql import statements
from syncwright.connectors.sql.errors import Failure, database_message, failure
from syncwright.connectors.sql.statements import Row, Target
from syncwright.connectors.sql.types import sql_type
from syncwright.connectors.sql.urls import DatabaseUrlConfig
from syncwright.domain.errors import ConfigError, DestinationError
from syncwright.domain.statuses import Operation, WriteMode
from syncwright.sdk import (
    BatchResult,
    Capabilities,
    ChangeBatch,
    Destination,
    ItemResult,
    sqlite_files,
)
from syncwright.sdk.confinement import sqlite_path

Apply = Callable[[sa.Connection, Any], None]

#: PostgreSQL's SQLSTATEs for a duplicate key, and for a COPY the table does not take (it
#: has row-level security).
_UNIQUE_VIOLATION = "23505"
_NOT_SUPPORTED = "0A000"


class SqlDestinationConfig(DatabaseUrlConfig):
    """A table of a database (its ``url``) to write to."""

    table: str
    db_schema: str | None = None
    create_table: bool = True


def destination_error(exc: sa.exc.SQLAlchemyError) -> DestinationError:
    """The database's message; worth trying again only when about the connection."""
    return DestinationError(database_message(exc), retryable=failure(exc) is Failure.CONNECTION)


class SqlDestination(Destination):
    type = "sql"
    config_class = SqlDestinationConfig
    supports = Capabilities(incremental=True, full=True, deletes=True)
    config: SqlDestinationConfig

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self._engine: sa.Engine | None = None
        self._target: Target | None = None
        #: The table was empty when this destination first looked (it may have created it).
        self._empty = False
        self._release_file: Callable[[], None] | None = None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            path = sqlite_path(self.config.url)
            if path is not None and self._release_file is None:
                # Python's sqlite3 has the file while this destination lives: no ADBC reader
                # of this process opens it meanwhile (see syncwright.sdk.sqlite_files).
                self._release_file = sqlite_files.hold(path, "sqlite3")
            self._engine = sa.create_engine(self.config.url)
        return self._engine

    def check(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.select(1))
        except sa.exc.SQLAlchemyError as exc:
            raise destination_error(exc) from exc

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        if self._release_file is not None:
            self._release_file()
            self._release_file = None

    # -- table ---------------------------------------------------------------------------
    def target(self, batch: ChangeBatch) -> Target:
        """The table to write (created from the batch's columns if missing and allowed)."""
        if self._target is not None:
            return self._target
        try:
            with self.engine.connect() as conn:
                exists = sa.inspect(conn).has_table(self.config.table, schema=self.config.db_schema)
            if not exists:
                if not self.config.create_table:
                    raise ConfigError(
                        f"table {self.config.table!r} does not exist", field="destination.table"
                    )
                self._create(batch)
            with self.engine.connect() as conn:
                table = sa.Table(
                    self.config.table,
                    sa.MetaData(),
                    schema=self.config.db_schema,
                    autoload_with=conn,
                )
                missing = [k for k in batch.primary_key if k not in table.c]
                if missing:
                    raise ConfigError(
                        f"table {self.config.table!r} has no column {missing[0]!r} of the"
                        " primary key",
                        field="destination.table",
                    )
                self._target = Target.inspect(conn, table, batch.primary_key)
        except sa.exc.SQLAlchemyError as exc:
            raise destination_error(exc) from exc
        self._empty = self._is_empty(self._target, batch)
        return self._target

    def _is_empty(self, target: Target, batch: ChangeBatch) -> bool:
        """Whether upserts may be copied into the table itself: it has no row yet (it may
        have been created just now) and a unique key on the model's key. Asked only where it
        can matter; a table this destination may not read counts as not empty."""
        if not (
            batch.columnar
            and batch.write_mode in (WriteMode.UPSERT, WriteMode.MIRROR)
            and target.upsert_method(self.engine.dialect) == "copy"
        ):
            return False
        try:
            with self.engine.connect() as conn:
                query = sa.select(sa.literal(1)).select_from(target.table).limit(1)
                return conn.execute(query).first() is None
        except sa.exc.SQLAlchemyError:
            return False

    def _create(self, batch: ChangeBatch) -> None:
        if not batch.columns:
            raise DestinationError(
                f"cannot create {self.config.table!r}: no column types known", retryable=False
            )
        dialect = self.engine.dialect
        columns = [
            sa.Column(
                c.name,
                sql_type(c.type, dialect, key=c.name in batch.primary_key),
                primary_key=c.name in batch.primary_key,
                autoincrement=False,
            )
            for c in batch.columns
        ]
        table = sa.Table(self.config.table, sa.MetaData(), *columns, schema=self.config.db_schema)
        table.create(self.engine, checkfirst=True)

    # -- writing -------------------------------------------------------------------------
    def write(self, batch: ChangeBatch) -> BatchResult:
        target = self.target(batch)
        failures: dict[int, ItemResult] = {}
        try:
            with self.engine.begin() as conn:
                if batch.columnar and self._bulk(batch, target):
                    self._write_arrow(conn, target, batch, failures)
                else:
                    self._write_rows(conn, target, batch, failures)
        except sa.exc.SQLAlchemyError as exc:
            raise destination_error(exc) from exc
        return BatchResult.ok(len(batch), failures)

    def _bulk(self, batch: ChangeBatch, target: Target) -> bool:
        """Whether the batch goes straight from Arrow: inserts, and upserts into a table
        with a unique key on the model's key (others are updated then inserted, row by row),
        of scalar columns; as CSV on PostgreSQL (``statements.copyable``), in one
        ``executemany`` elsewhere (``statements.bindable``)."""
        if batch.write_mode is WriteMode.UPDATE:
            return False
        dialect = self.engine.dialect
        known = pa.schema([f for f in batch.table.schema if f.name in target.table.c])
        method = target.upsert_method(dialect)
        if statements.copyable(dialect, known):
            return batch.write_mode is WriteMode.INSERT or method == "copy"
        return statements.bindable(dialect, known) and (
            batch.write_mode is WriteMode.INSERT or method in ("on_conflict", "on_duplicate_key")
        )

    def _write_arrow(
        self,
        conn: sa.Connection,
        target: Target,
        batch: ChangeBatch,
        failures: dict[int, ItemResult],
    ) -> None:
        """Insert or upsert the batch's rows from Arrow (as CSV on PostgreSQL, in one
        ``executemany`` elsewhere), then its removals by key."""
        table = batch.table.select([n for n in batch.table.column_names if n in target.table.c])
        removing = pc.equal(batch.operations, Operation.REMOVE.value)
        removes = pc.indices_nonzero(removing).to_pylist()
        writes = (
            pc.indices_nonzero(pc.invert(removing)).to_pylist()
            if removes
            else range(table.num_rows)
        )
        if writes:
            rows = table.take(pa.array(writes, pa.int64())) if removes else table
            inserting = batch.write_mode is WriteMode.INSERT
            if not statements.copyable(conn.dialect, rows.schema):
                apply: Apply = lambda c, r: statements.write_arrow(  # noqa: E731
                    c, target, r, insert=inserting
                )
            elif inserting:
                apply = lambda c, r: statements.insert_arrow(c, target, r)  # noqa: E731
            elif self._empty:
                apply = self._copy_into_empty
            else:
                apply = lambda c, r: statements.upsert_arrow(c, target, r)  # noqa: E731
            self._isolate(conn, apply, writes, rows, failures)
        if removes:
            keys = table.select(list(target.key)).take(pa.array(removes, pa.int64())).to_pylist()
            self._isolate(
                conn, lambda c, r: statements.delete(c, target, r), removes, keys, failures
            )

    def _copy_into_empty(self, conn: sa.Connection, rows: pa.Table) -> None:
        """Upsert into a table that was empty when this run began (or that it created), with
        a unique key on the model's key: its rows are this run's, each item once, so a COPY
        into the table itself does. A key it has all the same (a batch delivered again,
        another writer), or a table that takes no COPY (row-level security), ends that: the
        rows are upserted through a stage from then on."""
        assert self._target is not None
        target = self._target
        try:
            with conn.begin_nested():
                statements.copy_arrow(conn, target, rows)
            return
        except sa.exc.StatementError as exc:
            state = getattr(getattr(exc, "orig", None), "sqlstate", None)
            if state in (_UNIQUE_VIOLATION, _NOT_SUPPORTED):
                self._empty = False
            elif failure(exc) is not Failure.ROW:
                raise
        statements.upsert_arrow(conn, target, rows)

    def _write_rows(
        self,
        conn: sa.Connection,
        target: Target,
        batch: ChangeBatch,
        failures: dict[int, ItemResult],
    ) -> None:
        writes: list[int] = []
        removes: list[int] = []
        for index, change in enumerate(batch.changes):
            if change.operation is Operation.REMOVE:
                removes.append(index)
            else:
                writes.append(index)
        values = _values(target.table)
        if writes:
            rows = [values(batch.changes[i].fields or {}) for i in writes]
            if batch.write_mode is WriteMode.UPDATE:
                self._update(conn, target, writes, rows, failures)
            else:
                method = (
                    statements.insert if batch.write_mode is WriteMode.INSERT else statements.upsert
                )
                self._isolate(conn, lambda c, r: method(c, target, r), writes, rows, failures)
        if removes:
            keys = [batch.changes[i].key for i in removes]
            self._isolate(
                conn, lambda c, r: statements.delete(c, target, r), removes, keys, failures
            )

    def _isolate(
        self,
        conn: sa.Connection,
        apply: Apply,
        indexes: Sequence[int],
        rows: Any,
        failures: dict[int, ItemResult],
    ) -> None:
        """Apply rows (a list, or an Arrow table) under a savepoint; when the database rejects
        a row's values, split until the rejected rows stand alone, each failed with the
        database's message. Any other error goes through."""
        try:
            with conn.begin_nested():
                apply(conn, rows)
        except sa.exc.StatementError as exc:
            if failure(exc) is not Failure.ROW:
                raise
            if len(rows) == 1:
                failures[indexes[0]] = ItemResult.failed(database_message(exc))
                return
            half = len(rows) // 2
            self._isolate(conn, apply, indexes[:half], rows[:half], failures)
            self._isolate(conn, apply, indexes[half:], rows[half:], failures)

    def _update(
        self,
        conn: sa.Connection,
        target: Target,
        indexes: list[int],
        rows: list[Row],
        failures: dict[int, ItemResult],
    ) -> None:
        """Update mode: a row the table lacks fails; the others are updated."""
        pk = target.key
        present = statements.present(conn, target, rows)
        found_idx, found_rows = [], []
        for index, row in zip(indexes, rows):
            if tuple(row[k] for k in pk) in present:
                found_idx.append(index)
                found_rows.append(row)
            else:
                failures[index] = ItemResult.failed(
                    f"no row with key {_describe(row, pk)} in {self.config.table}"
                )
        if found_rows:
            self._isolate(
                conn, lambda c, r: statements.update(c, target, r), found_idx, found_rows, failures
            )


def _values(table: sa.Table) -> Callable[[dict[str, Any]], Row]:
    """A row's fields as the table takes them: only fields it has a column for (all of them,
    nearly always), and times with a zone as UTC in columns without one."""
    known = set(table.c.keys())
    naive = {
        c.name
        for c in table.c
        if isinstance(c.type, sa.DateTime) and not getattr(c.type, "timezone", False)
    }

    def values(fields: dict[str, Any]) -> Row:
        row = fields if fields.keys() <= known else {k: v for k, v in fields.items() if k in known}
        zoned = [k for k in naive if isinstance(row.get(k), datetime) and row[k].tzinfo is not None]
        if not zoned:
            return row
        row = dict(row)
        for k in zoned:
            row[k] = row[k].astimezone(UTC).replace(tzinfo=None)
        return row

    return values


def _describe(row: Row, pk: tuple[str, ...]) -> str:
    return ", ".join(f"{k}={row[k]!r}" for k in pk)
