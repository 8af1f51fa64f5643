"""Bulk writes through the driver: COPY on PostgreSQL, executemany on SQLite. Values go in
as plain tuples in a fixed column order, converted once per column by the column's type."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import sqlalchemy as sa


def insert_rows(
    conn: sa.Connection,
    table: sa.Table,
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    fixed: dict[str, Any] | None = None,
) -> None:
    """Insert ``rows`` (tuples in the order of ``names``) into ``table`` in the connection's
    transaction, each followed by the values of ``fixed`` (the same for every row, converted
    once). Values are Python values of the columns' types (datetimes, not strings)."""
    dialect = conn.dialect

    def processor(name: str) -> Any:
        return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)

    processors = [processor(name) for name in names]
    if fixed:
        constants = tuple(
            value if (p := processor(name)) is None or value is None else p(value)
            for name, value in fixed.items()
        )
        names = [*names, *fixed]
        processors += [None] * len(constants)
        rows = (tuple(row) + constants for row in rows)
    if any(processors):
        rows = (
            tuple(
                value if p is None or value is None else p(value)
                for p, value in zip(processors, row)
            )
            for row in rows
        )
    preparer = dialect.identifier_preparer
    columns = ", ".join(preparer.quote(n) for n in names)
    target = preparer.format_table(table)
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor()
    try:
        if dialect.name == "postgresql":
            with cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in names)
            cursor.executemany(f"INSERT INTO {target} ({columns}) VALUES ({marks})", rows)
    finally:
        cursor.close()
