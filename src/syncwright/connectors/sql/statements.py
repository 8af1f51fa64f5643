"""The statements that write rows into a table, built with SQLAlchemy for the connection's
dialect (its quoting, its types, its upsert).

Every statement sets only the columns the rows carry: a column of the table that the model
lacks keeps its value, and no row is ever deleted to change it (so rows referencing it by a
foreign key neither go with it nor stop it from changing).

Upsert, by database:

- PostgreSQL (psycopg): the rows are copied (``COPY``) into a temporary table shaped like the
  target, then ``INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE``. A batch that comes as
  Arrow is copied as CSV that Arrow writes, with no Python per row; into a table that was
  empty when the run began (or that it created), it is copied into the table itself.
- PostgreSQL with another driver, and SQLite: ``INSERT ... ON CONFLICT (key) DO UPDATE``
  (on SQLite, a batch that comes as Arrow: one ``executemany`` of it from the Arrow
  columns, as on MySQL and MariaDB below).
- MySQL and MariaDB: ``INSERT ... ON DUPLICATE KEY UPDATE``, when the key is the table's only
  unique key (the statement updates the row of whichever unique key the new row repeats).
- Any other database, or a table whose key is not (or not alone) unique: ``UPDATE`` the rows
  whose key is present, then ``INSERT`` the others, in the same transaction. A row another
  writer inserts in between fails alone, as a duplicate key.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

Row = dict[str, Any]

#: How many keys one ``IN (...)`` names when finding which rows exist.
KEYS_PER_LOOKUP = 500


@dataclass(frozen=True, kw_only=True)
class Target:
    """A table to write and its key (the model's primary key)."""

    table: sa.Table
    key: tuple[str, ...]
    #: The table has a unique index (or primary key) on exactly the key's columns.
    keyed: bool = True
    #: The table has other unique indexes too.
    other_unique: bool = False

    @classmethod
    def inspect(cls, conn: sa.Connection, table: sa.Table, key: Sequence[str]) -> Target:
        inspector = sa.inspect(conn)
        pk = inspector.get_pk_constraint(table.name, schema=table.schema)
        uniques = [set(pk.get("constrained_columns") or ())]
        uniques += [
            set(u["column_names"])
            for u in inspector.get_unique_constraints(table.name, schema=table.schema)
        ]
        uniques += [
            set(c for c in i["column_names"] if c is not None)
            for i in inspector.get_indexes(table.name, schema=table.schema)
            if i.get("unique")
        ]
        uniques = [u for u in uniques if u]
        wanted = set(key)
        return cls(
            table=table,
            key=tuple(key),
            keyed=wanted in uniques,
            other_unique=any(u != wanted for u in uniques),
        )

    def upsert_method(self, dialect: sa.Dialect) -> str:
        """How this target is upserted on ``dialect`` (see the module's docstring)."""
        if not self.keyed:
            return "update_then_insert"
        if dialect.name == "postgresql":
            return "copy" if dialect.driver == "psycopg" else "on_conflict"
        if dialect.name == "sqlite":
            return "on_conflict"
        if dialect.name in ("mysql", "mariadb") and not self.other_unique:
            return "on_duplicate_key"
        return "update_then_insert"


def by_columns(rows: list[Row]) -> Iterator[tuple[tuple[str, ...], list[Row]]]:
    """The rows grouped by the columns they carry (nearly always one group)."""
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    yield from groups.items()


def insert(conn: sa.Connection, target: Target, rows: list[Row]) -> None:
    for _, group in by_columns(rows):
        conn.execute(target.table.insert(), group)


def upsert(conn: sa.Connection, target: Target, rows: list[Row]) -> None:
    method = target.upsert_method(conn.dialect)
    if method == "update_then_insert":
        _update_then_insert(conn, target, rows)
        return
    for columns, group in by_columns(rows):
        changing = [c for c in columns if c not in target.key]
        if method == "copy":
            _upsert_by_copy(conn, target, columns, group)
        else:
            conn.execute(_one_statement_upsert(conn.dialect, target, changing), group)


def _one_statement_upsert(dialect: sa.Dialect, target: Target, changing: list[str]) -> Any:
    """The upsert of rows setting ``changing`` (besides the key) in one statement: ``ON
    DUPLICATE KEY UPDATE`` or ``ON CONFLICT``, as ``Target.upsert_method`` says."""
    if target.upsert_method(dialect) == "on_duplicate_key":
        stmt = mysql.insert(target.table)
        # With nothing but the key to set, setting the key to itself leaves the row as is.
        sets = changing or list(target.key[:1])
        return stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in sets})
    return _on_conflict(dialect, target, changing)


def _on_conflict(dialect: sa.Dialect, target: Target, changing: list[str]) -> Any:
    stmt: Any = (postgresql if dialect.name == "postgresql" else sqlite).insert(target.table)
    if not changing:
        return stmt.on_conflict_do_nothing(index_elements=list(target.key))
    return stmt.on_conflict_do_update(
        index_elements=list(target.key), set_={c: stmt.excluded[c] for c in changing}
    )


def _upsert_by_copy(
    conn: sa.Connection, target: Target, columns: tuple[str, ...], rows: list[Row]
) -> None:
    """PostgreSQL: COPY the rows into a temporary table shaped like the target, then one
    INSERT ... SELECT ... ON CONFLICT from it (far fewer round trips than a statement per
    row)."""
    table = target.table
    stage, stage_name = _stage(conn, target, columns)
    names = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
    statement = f"COPY {stage_name} ({names}) FROM STDIN"
    processors = [
        table.c[c].type.dialect_impl(conn.dialect).bind_processor(conn.dialect) for c in columns
    ]
    dbapi = conn.dialect.loaded_dbapi
    raw: Any = conn.connection.dbapi_connection

    def converted(row: Row) -> list[Any]:
        return [
            value if p is None or value is None else p(value)
            for p, value in zip(processors, map(row.get, columns))
        ]

    # Most columns need no conversion: then each row goes as it is, with no per-value work.
    values = converted if any(processors) else (lambda row: tuple(map(row.get, columns)))
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(values(row))
    except dbapi.Error as exc:  # as SQLAlchemy would raise it: a row error can be isolated
        raise sa.exc.DBAPIError.instance(statement, None, exc, dbapi.Error) from exc
    except (TypeError, ValueError) as exc:  # a value its column's type cannot take
        raise _refused_value(statement, exc) from exc
    _merge(conn, target, columns, stage, stage_name)


def _refused_value(statement: str, exc: Exception) -> sa.exc.StatementError:
    """A value that a column's type refused to convert, as SQLAlchemy reports one: the rows
    are split until it stands alone and fails with this message."""
    return sa.exc.StatementError(f"{type(exc).__name__}: {exc}", statement, None, exc)


def _stage(conn: sa.Connection, target: Target, columns: Sequence[str]) -> tuple[Any, str]:
    """The temporary table rows are copied into before they are merged into the target
    (types only, no constraints: a bad row is refused by the target, in its own words)."""
    table = target.table
    preparer = conn.dialect.identifier_preparer
    stage = sa.table(
        "syncwright_stage_" + table.name, *(sa.column(c, table.c[c].type) for c in columns)
    )
    stage_name = preparer.format_table(stage)  # type: ignore[arg-type]
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage_name} ON COMMIT DROP AS"
        f" SELECT * FROM {preparer.format_table(table)} WITH NO DATA"
    )
    return stage, stage_name


def _merge(
    conn: sa.Connection, target: Target, columns: Sequence[str], stage: Any, stage_name: str
) -> None:
    """One INSERT ... SELECT ... ON CONFLICT from the stage into the target, then the stage
    emptied for the next rows."""
    changing = [c for c in columns if c not in target.key]
    stmt: Any = postgresql.insert(target.table).from_select(list(columns), sa.select(*stage.c))
    stmt = (
        stmt.on_conflict_do_update(
            index_elements=list(target.key), set_={c: stmt.excluded[c] for c in changing}
        )
        if changing
        else stmt.on_conflict_do_nothing(index_elements=list(target.key))
    )
    conn.execute(stmt)
    conn.exec_driver_sql(f"TRUNCATE {stage_name}")


def present(conn: sa.Connection, target: Target, rows: list[Row]) -> set[tuple[Any, ...]]:
    """The keys of ``rows`` that the table has."""
    key_columns = [target.table.c[k] for k in target.key]
    wanted = sorted({tuple(r[k] for k in target.key) for r in rows}, key=repr)
    found: set[tuple[Any, ...]] = set()
    for start in range(0, len(wanted), KEYS_PER_LOOKUP):
        chunk = wanted[start : start + KEYS_PER_LOOKUP]
        where = (
            key_columns[0].in_([k[0] for k in chunk])
            if len(key_columns) == 1
            else sa.tuple_(*key_columns).in_(chunk)
        )
        found.update(tuple(r) for r in conn.execute(sa.select(*key_columns).where(where)))
    return found


def update(conn: sa.Connection, target: Target, rows: list[Row]) -> None:
    """Set each row's columns on the table's row of the same key."""
    table = target.table
    for columns, group in by_columns(rows):
        changing = [c for c in columns if c not in target.key]
        if not changing:
            continue
        stmt = (
            table.update()
            .where(*[table.c[k] == sa.bindparam(f"key_{k}") for k in target.key])
            .values({c: sa.bindparam(f"val_{c}") for c in changing})
        )
        conn.execute(
            stmt,
            [
                {**{f"key_{k}": r[k] for k in target.key}, **{f"val_{c}": r[c] for c in changing}}
                for r in group
            ],
        )


def delete(conn: sa.Connection, target: Target, keys: list[Row]) -> None:
    table = target.table
    stmt = table.delete().where(*[table.c[k] == sa.bindparam(f"key_{k}") for k in target.key])
    conn.execute(stmt, [{f"key_{k}": key[k] for k in target.key} for key in keys])


def _update_then_insert(conn: sa.Connection, target: Target, rows: list[Row]) -> None:
    found = present(conn, target, rows)
    existing, new = [], []
    for row in rows:
        (existing if tuple(row[k] for k in target.key) in found else new).append(row)
    if existing:
        update(conn, target, existing)
    if new:
        insert(conn, target, new)


# -- from Arrow ------------------------------------------------------------------------------
_CSV = pacsv.WriteOptions(include_header=False, quoting_style="needed")


def copyable(dialect: sa.Dialect, schema: pa.Schema) -> bool:
    """Whether rows of ``schema`` go to this database as CSV straight from Arrow: PostgreSQL
    through psycopg, and only scalar columns whose CSV text PostgreSQL reads back as the
    same value (numbers, text, flags, times, dates, decimals; not bytes, lists or structs)."""
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        return False
    return all(_copyable(field.type) for field in schema)


def bindable(dialect: sa.Dialect, schema: pa.Schema) -> bool:
    """Whether rows of ``schema`` go to this database from Arrow columns in one
    ``executemany`` (``write_arrow``): SQLite, MySQL and MariaDB, for the same scalar
    columns as ``copyable``."""
    if dialect.name not in ("sqlite", "mysql", "mariadb"):
        return False
    return all(_copyable(field.type) for field in schema)


def _copyable(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return _copyable(kind.value_type)
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_date(kind)
        or pa.types.is_time(kind)
        or pa.types.is_timestamp(kind)
        or pa.types.is_null(kind)
    )


def _as_stored(target: Target, name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A time with a zone as UTC where the column has none (as the row path does)."""
    kind = column.type
    sql = target.table.c[name].type
    if (
        pa.types.is_timestamp(kind)
        and kind.tz is not None
        and isinstance(sql, sa.DateTime)
        and not getattr(sql, "timezone", False)
    ):
        return pc.cast(pc.cast(column, pa.timestamp(kind.unit, "UTC")), pa.timestamp(kind.unit))
    return column


def _csv(target: Target, rows: pa.Table) -> bytes:
    """The rows as CSV for ``COPY ... (FORMAT csv)``: text always quoted, so that an empty
    text is not read as null; a time with a zone as UTC where the column has none (as the
    row path does)."""
    columns = [_as_stored(target, name, rows.column(name)) for name in rows.column_names]
    sink = io.BytesIO()
    pacsv.write_csv(pa.Table.from_arrays(columns, names=rows.column_names), sink, _CSV)
    return sink.getvalue()


def _copy(conn: sa.Connection, into: str, target: Target, rows: pa.Table) -> None:
    preparer = conn.dialect.identifier_preparer
    names = ", ".join(preparer.quote(c) for c in rows.column_names)
    # Arrow writes UTF-8 whatever the connection's client encoding.
    statement = f"COPY {into} ({names}) FROM STDIN (FORMAT csv, ENCODING 'UTF8')"
    dbapi = conn.dialect.loaded_dbapi
    raw: Any = conn.connection.dbapi_connection
    data = _csv(target, rows)
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            copy.write(data)
    except dbapi.Error as exc:  # as SQLAlchemy would raise it: a row error can be isolated
        raise sa.exc.DBAPIError.instance(statement, None, exc, dbapi.Error) from exc


def copy_arrow(conn: sa.Connection, target: Target, rows: pa.Table) -> None:
    """COPY the rows into the table itself (a row whose key it has fails)."""
    _copy(conn, conn.dialect.identifier_preparer.format_table(target.table), target, rows)


def insert_arrow(conn: sa.Connection, target: Target, rows: pa.Table) -> None:
    """COPY the rows into a temporary table shaped like the target, then one plain
    INSERT ... SELECT from it (a row whose key the table has fails, as an insert; a table
    with row-level security takes it, where it takes no COPY)."""
    stage, stage_name = _stage(conn, target, rows.column_names)
    _copy(conn, stage_name, target, rows)
    conn.execute(target.table.insert().from_select(rows.column_names, sa.select(*stage.c)))
    conn.exec_driver_sql(f"TRUNCATE {stage_name}")


def upsert_arrow(conn: sa.Connection, target: Target, rows: pa.Table) -> None:
    """COPY the rows into a temporary table shaped like the target, then one
    INSERT ... SELECT ... ON CONFLICT from it."""
    stage, stage_name = _stage(conn, target, rows.column_names)
    _copy(conn, stage_name, target, rows)
    _merge(conn, target, rows.column_names, stage, stage_name)


def write_arrow(conn: sa.Connection, target: Target, rows: pa.Table, *, insert: bool) -> None:
    """Insert (``insert``) or upsert the rows with one statement compiled once and executed
    for all of them by the driver (``executemany``), the values taken from the Arrow columns
    and converted only by the columns that need it (a time, a decimal on SQLite): no dict,
    and no SQLAlchemy work, per row. For a table with a unique key on the model's key (the
    ``on_conflict`` and ``on_duplicate_key`` upserts), or for inserts."""
    table = target.table
    columns = list(rows.column_names)
    method = target.upsert_method(conn.dialect)
    if not insert and method not in ("on_conflict", "on_duplicate_key"):
        raise ValueError(f"no statement upserts {table.name} in one go ({method})")
    changing = [c for c in columns if c not in target.key]
    stmt = table.insert() if insert else _one_statement_upsert(conn.dialect, target, changing)
    compiled = stmt.compile(dialect=conn.dialect, column_keys=columns)
    # The statement's parameters are the rows' columns (an insert's binds are named after
    # them), by position or by name as the driver takes them (a name escaped if need be).
    order = list(compiled.positiontup or []) if compiled.positional else list(compiled.binds)
    if sorted(order) != sorted(columns):
        raise ValueError(f"the statement for {table.name} takes {order}, not {columns}")
    sql = str(compiled)
    values = []
    for name in order:
        column = _as_stored(target, name, rows.column(name)).to_pylist()
        process = table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        if process is not None:
            try:
                column = [None if v is None else process(v) for v in column]
            except (TypeError, ValueError) as exc:
                raise _refused_value(sql, exc) from exc
        values.append(column)
    params: list[Any] = list(zip(*values))
    if not compiled.positional:
        names = [compiled.escaped_bind_names.get(name, name) for name in order]
        params = [dict(zip(names, row)) for row in params]
    dbapi = conn.dialect.loaded_dbapi
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor()
    try:
        cursor.executemany(sql, params)
    except dbapi.Error as exc:  # as SQLAlchemy would raise it: a row error can be isolated
        raise sa.exc.DBAPIError.instance(sql, None, exc, dbapi.Error) from exc
    finally:
        cursor.close()
