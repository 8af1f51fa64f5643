"""Bulk writes through the driver: COPY on PostgreSQL, one ``INSERT ... SELECT FROM
json_each(?)`` per call on SQLite. Values go in as plain tuples in a fixed column order,
converted once per column by the column's type."""

from __future__ import annotations

import io
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa

#: SQLite reads a JSON array's items with ``->>`` from 3.38 on; before, rows are bound one by
#: one (``executemany``).
_JSON_ROWS = sqlite3.sqlite_version_info >= (3, 38)


def insert_rows(
    conn: sa.Connection,
    table: sa.Table,
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    fixed: dict[str, Any] | None = None,
) -> None:
    """Insert ``rows`` (tuples in the order of ``names``) into ``table`` in the connection's
    transaction, each followed by the values of ``fixed`` (the same for every row, converted
    once). Values are Python values of the columns' types (datetimes, not strings), integers
    within 64 bits."""
    prepare_insert(conn.dialect, table, names, rows, fixed).execute(conn)


@dataclass(frozen=True)
class PreparedInsert:
    """An insert with its rows converted and laid out for the driver, ready to execute (the
    work in Python done, so that a thread may prepare it while another waits to write)."""

    postgresql: bool
    statement: str
    rows: list[Sequence[Any]]
    constants: tuple[Any, ...] = ()
    #: SQLite: the statement's parameters, the rows as one JSON array last.
    params: tuple[Any, ...] | None = None
    #: PostgreSQL: the rows as CSV for ``COPY ... (FORMAT csv)`` (instead of ``rows``).
    data: bytes | None = None

    def execute(self, conn: sa.Connection) -> None:
        raw: Any = conn.connection.dbapi_connection
        cursor = raw.cursor()
        try:
            if self.data is not None:
                with cursor.copy(self.statement) as copy:
                    copy.write(self.data)
            elif self.postgresql:
                with cursor.copy(self.statement) as copy:
                    for row in self.rows:
                        copy.write_row(tuple(row) + self.constants)
            elif self.params is not None:
                cursor.execute(self.statement, self.params)
            elif self.rows:
                cursor.executemany(
                    self.statement, (tuple(row) + self.constants for row in self.rows)
                )
        finally:
            cursor.close()


#: Text always quoted, so that an empty text is not read as null.
_CSV = pacsv.WriteOptions(include_header=False, quoting_style="needed")


def prepare_copy(
    dialect: sa.Dialect,
    table: sa.Table,
    columns: dict[str, pa.Array | pa.ChunkedArray],
    fixed: dict[str, Any] | None = None,
) -> PreparedInsert:
    """``prepare_insert`` for PostgreSQL from Arrow columns (of equal length), written as CSV
    by Arrow in one go rather than row by row; ``fixed`` values (Python values: integers,
    texts, times with their zone) are repeated for each row, and a null one is left out, so
    the column takes its default: null for the tables this writes (none has another)."""
    assert dialect.name == "postgresql"
    size = len(next(iter(columns.values()))) if columns else 0
    arrays = dict(columns)
    for name, value in (fixed or {}).items():
        if isinstance(value, datetime):
            # As ISO text, which PostgreSQL reads with its zone: Arrow formats a time with a
            # zone a hundred times slower than it writes a text.
            value = value.isoformat()
        if value is not None:
            arrays[name] = pa.repeat(pa.scalar(value), size)
    preparer = dialect.identifier_preparer
    names = ", ".join(preparer.quote(n) for n in arrays)
    sink = io.BytesIO()
    pacsv.write_csv(pa.table(list(arrays.values()), names=list(arrays)), sink, _CSV)
    return PreparedInsert(
        True,
        f"COPY {preparer.format_table(table)} ({names}) FROM STDIN (FORMAT csv, ENCODING 'UTF8')",
        [],
        data=sink.getvalue(),
    )


def prepare_insert(
    dialect: sa.Dialect,
    table: sa.Table,
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    fixed: dict[str, Any] | None = None,
) -> PreparedInsert:
    """``insert_rows`` up to the driver's call. On SQLite the rows go as one JSON array that
    the database unpacks in one statement: binding them one by one (``executemany``) gives
    up and takes back Python's lock for every row, which stalls whenever another thread of
    the process is busy (the engine records a batch while it delivers the next), and the
    statement does the same work in C."""

    def processor(name: str) -> Any:
        return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)

    processors = [processor(name) for name in names]
    constants = tuple(
        value if (p := processor(name)) is None or value is None else p(value)
        for name, value in (fixed or {}).items()
    )
    if any(processors):
        rows = (
            tuple(
                value if p is None or value is None else p(value)
                for p, value in zip(processors, row)
            )
            for row in rows
        )
    listed = rows if isinstance(rows, list) else list(rows)
    preparer = dialect.identifier_preparer
    target = preparer.format_table(table)
    everything = [*names, *(fixed or {})]
    columns = ", ".join(preparer.quote(n) for n in everything)
    if dialect.name == "postgresql":
        return PreparedInsert(
            True, f"COPY {target} ({columns}) FROM STDIN", listed, constants=constants
        )
    if not listed:
        return PreparedInsert(False, "", [])
    text = json.dumps(listed, ensure_ascii=False, allow_nan=False) if _JSON_ROWS else ""
    # SQLite's JSON functions end a text at a NUL character; such rows (rare) are bound one
    # by one, as they are before SQLite 3.38.
    if _JSON_ROWS and "\\u0000" not in text:
        picks = [f"value ->> {i}" for i in range(len(names))] + ["?"] * len(constants)
        return PreparedInsert(
            False,
            f"INSERT INTO {target} ({columns}) SELECT {', '.join(picks)} FROM json_each(?)",
            [],
            params=(*constants, text),
        )
    marks = ", ".join("?" for _ in everything)
    return PreparedInsert(
        False,
        f"INSERT INTO {target} ({columns}) VALUES ({marks})",
        listed,
        constants=constants,
    )
