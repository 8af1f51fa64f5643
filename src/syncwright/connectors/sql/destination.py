"""Writes changes into a SQL table: insert, update, upsert or mirror (with deletes).

A batch is applied in one transaction with bulk statements. When the database rejects a row,
the batch is split under savepoints until the rejected rows stand alone: each fails with the
database's message and every other row still lands.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from syncwright.connectors.sql.errors import database_message
from syncwright.connectors.sql.types import sql_type
from syncwright.connectors.sql.urls import DatabaseUrlConfig
from syncwright.domain.errors import ConfigError, DestinationError
from syncwright.domain.statuses import Operation, WriteMode
from syncwright.sdk import Capabilities, ChangeBatch, Destination, ItemResult, sqlite_files
from syncwright.sdk.confinement import sqlite_path

#: Errors that belong to one row's values; anything else fails the whole batch.
ROW_ERRORS = (sa.exc.IntegrityError, sa.exc.DataError)

Apply = Callable[[sa.Connection, list[dict[str, Any]]], None]


class SqlDestinationConfig(DatabaseUrlConfig):
    """A table of a database (its ``url``) to write to."""

    table: str
    db_schema: str | None = None
    create_table: bool = True


def _known(fields: dict[str, Any], known: set[str]) -> dict[str, Any]:
    """The fields the table has columns for (all of them, nearly always)."""
    if fields.keys() <= known:
        return fields
    return {k: v for k, v in fields.items() if k in known}


class SqlDestination(Destination):
    type = "sql"
    config_class = SqlDestinationConfig
    supports = Capabilities(incremental=True, full=True, deletes=True)
    config: SqlDestinationConfig

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self._engine: sa.Engine | None = None
        self._table: sa.Table | None = None
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
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise DestinationError(database_message(exc)) from exc

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        if self._release_file is not None:
            self._release_file()
            self._release_file = None

    # -- table ---------------------------------------------------------------------------
    def table(self, batch: ChangeBatch) -> sa.Table:
        if self._table is not None:
            return self._table
        try:
            inspector = sa.inspect(self.engine)
            exists = inspector.has_table(self.config.table, schema=self.config.db_schema)
            if not exists:
                if not self.config.create_table:
                    raise ConfigError(
                        f"table {self.config.table!r} does not exist", field="destination.table"
                    )
                self._create(batch)
            self._table = sa.Table(
                self.config.table,
                sa.MetaData(),
                schema=self.config.db_schema,
                autoload_with=self.engine,
            )
        except sa.exc.SQLAlchemyError as exc:
            raise DestinationError(database_message(exc)) from exc
        missing = [k for k in batch.primary_key if k not in self._table.c]
        if missing:
            raise ConfigError(
                f"table {self.config.table!r} has no column {missing[0]!r} of the primary key",
                field="destination.table",
            )
        return self._table

    def _create(self, batch: ChangeBatch) -> None:
        if not batch.columns:
            raise DestinationError(f"cannot create {self.config.table!r}: no column types known")
        columns = [
            sa.Column(
                c.name,
                sql_type(c.type),
                primary_key=c.name in batch.primary_key,
                autoincrement=False,
            )
            for c in batch.columns
        ]
        table = sa.Table(self.config.table, sa.MetaData(), *columns, schema=self.config.db_schema)
        table.create(self.engine, checkfirst=True)

    # -- writing -------------------------------------------------------------------------
    def write(self, batch: ChangeBatch) -> list[ItemResult]:
        table = self.table(batch)
        results: list[ItemResult | None] = [None] * len(batch)
        writes: list[int] = []
        removes: list[int] = []
        for index, change in enumerate(batch.changes):
            if change.operation is Operation.REMOVE:
                removes.append(index)
            else:
                writes.append(index)
        known = set(table.c.keys())
        try:
            with self.engine.begin() as conn:
                if writes:
                    rows = [_known(batch.changes[i].fields or {}, known) for i in writes]
                    if batch.write_mode is WriteMode.UPDATE:
                        self._update(conn, table, batch, writes, rows, results)
                    else:
                        apply = (
                            self._insert if batch.write_mode is WriteMode.INSERT else self._upsert
                        )
                        self._isolate(
                            conn, lambda c, r: apply(c, table, batch, r), writes, rows, results
                        )
                if removes:
                    keys = [batch.changes[i].key for i in removes]
                    self._isolate(
                        conn, lambda c, r: self._delete(c, table, batch, r), removes, keys, results
                    )
        except sa.exc.SQLAlchemyError as exc:
            raise DestinationError(database_message(exc)) from exc
        return [r if r is not None else ItemResult.failed("not written") for r in results]

    def _isolate(
        self,
        conn: sa.Connection,
        apply: Apply,
        indexes: Sequence[int],
        rows: list[dict[str, Any]],
        results: list[ItemResult | None],
    ) -> None:
        """Apply rows under a savepoint; on a row error, split until the bad rows stand alone."""
        try:
            with conn.begin_nested():
                apply(conn, rows)
        except ROW_ERRORS as exc:
            if len(rows) == 1:
                results[indexes[0]] = ItemResult.failed(database_message(exc))
                return
            half = len(rows) // 2
            self._isolate(conn, apply, indexes[:half], rows[:half], results)
            self._isolate(conn, apply, indexes[half:], rows[half:], results)
            return
        for index in indexes:
            if results[index] is None:
                results[index] = ItemResult.ok()

    def _insert(
        self, conn: sa.Connection, table: sa.Table, batch: ChangeBatch, rows: list[dict[str, Any]]
    ) -> None:
        conn.execute(table.insert(), rows)

    def _upsert(
        self, conn: sa.Connection, table: sa.Table, batch: ChangeBatch, rows: list[dict[str, Any]]
    ) -> None:
        dialect = conn.dialect.name
        if dialect == "postgresql":
            self._upsert_by_copy(conn, table, batch, rows)
            return
        if dialect == "sqlite":
            stmt: Any = sqlite.insert(table)
        else:
            # Portable fallback: delete then insert inside the same transaction.
            self._delete(conn, table, batch, [{k: r[k] for k in batch.primary_key} for r in rows])
            conn.execute(table.insert(), rows)
            return
        updates = {c: stmt.excluded[c] for c in rows[0] if c not in batch.primary_key}
        stmt = (
            stmt.on_conflict_do_update(index_elements=list(batch.primary_key), set_=updates)
            if updates
            else stmt.on_conflict_do_nothing(index_elements=list(batch.primary_key))
        )
        conn.execute(stmt, rows)

    def _upsert_by_copy(
        self, conn: sa.Connection, table: sa.Table, batch: ChangeBatch, rows: list[dict[str, Any]]
    ) -> None:
        """PostgreSQL: COPY the rows into a temporary table shaped like the target, then one
        INSERT ... ON CONFLICT from it (far fewer round trips than one statement per row)."""
        names = list(rows[0])
        quote = conn.dialect.identifier_preparer.quote
        stage = quote("syncwright_stage_" + table.name)
        target = conn.dialect.identifier_preparer.format_table(table)
        columns = ", ".join(quote(n) for n in names)
        # Types only, no constraints: a bad row is refused by the target, in its own words.
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS"
            f" SELECT * FROM {target} WITH NO DATA"
        )
        processors = [
            table.c[n].type.dialect_impl(conn.dialect).bind_processor(conn.dialect) for n in names
        ]
        raw: Any = conn.connection.dbapi_connection
        statement = f"COPY {stage} ({columns}) FROM STDIN"
        dbapi = conn.dialect.loaded_dbapi

        def converted(row: dict[str, Any]) -> list[Any]:
            return [
                value if p is None or value is None else p(value)
                for p, value in zip(processors, map(row.get, names))
            ]

        values = converted if any(processors) else (lambda row: tuple(map(row.get, names)))
        try:
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(values(row))
        except dbapi.Error as exc:  # as SQLAlchemy would raise it: a row error can be isolated
            raise sa.exc.DBAPIError.instance(statement, None, exc, dbapi.Error) from exc
        keys = ", ".join(quote(k) for k in batch.primary_key)
        updates = [n for n in names if n not in batch.primary_key]
        action = (
            "DO UPDATE SET " + ", ".join(f"{quote(n)} = EXCLUDED.{quote(n)}" for n in updates)
            if updates
            else "DO NOTHING"
        )
        conn.exec_driver_sql(
            f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {stage}"
            f" ON CONFLICT ({keys}) {action}"
        )
        conn.exec_driver_sql(f"TRUNCATE {stage}")

    def _update(
        self,
        conn: sa.Connection,
        table: sa.Table,
        batch: ChangeBatch,
        indexes: list[int],
        rows: list[dict[str, Any]],
        results: list[ItemResult | None],
    ) -> None:
        pk = batch.primary_key
        key_cols = [table.c[k] for k in pk]
        wanted = {tuple(r[k] for k in pk) for r in rows}
        present: set[tuple[Any, ...]] = set()
        for chunk in _chunks(sorted(wanted, key=repr), 500):
            where = (
                key_cols[0].in_([k[0] for k in chunk])
                if len(pk) == 1
                else sa.tuple_(*key_cols).in_(chunk)
            )
            present.update(tuple(r) for r in conn.execute(sa.select(*key_cols).where(where)))
        found_idx, found_rows = [], []
        for index, row in zip(indexes, rows):
            if tuple(row[k] for k in pk) in present:
                found_idx.append(index)
                found_rows.append(row)
            else:
                results[index] = ItemResult.failed(
                    f"no row with key {_describe(row, pk)} in {self.config.table}"
                )
        if not found_rows:
            return
        set_cols = [c for c in found_rows[0] if c not in pk]
        stmt = (
            table.update()
            .where(*[table.c[k] == sa.bindparam(f"key_{k}") for k in pk])
            .values({c: sa.bindparam(f"val_{c}") for c in set_cols})
        )
        params = [
            {**{f"key_{k}": r[k] for k in pk}, **{f"val_{c}": r.get(c) for c in set_cols}}
            for r in found_rows
        ]
        self._isolate(conn, lambda c, p: c.execute(stmt, p) and None, found_idx, params, results)

    def _delete(
        self, conn: sa.Connection, table: sa.Table, batch: ChangeBatch, keys: list[dict[str, Any]]
    ) -> None:
        pk = batch.primary_key
        stmt = table.delete().where(*[table.c[k] == sa.bindparam(f"key_{k}") for k in pk])
        conn.execute(stmt, [{f"key_{k}": key[k] for k in pk} for key in keys])


def _describe(row: dict[str, Any], pk: tuple[str, ...]) -> str:
    return ", ".join(f"{k}={row[k]!r}" for k in pk)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
