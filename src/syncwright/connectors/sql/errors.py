"""A database's errors: the short message a person reads in the report, and what the error
is about, told by the database's own codes (PostgreSQL's SQLSTATE, MySQL's and MariaDB's
error numbers, SQLite's extended result codes).

- ``ROW``: one row's values (a CHECK or NOT NULL constraint, a duplicate or missing key, a
  value too long, out of range or of the wrong type): that row fails alone.
- ``CONNECTION``: the connection or the server's state for now (lost or refused connection,
  server shutting down, too many connections, deadlock, lock wait timeout): trying again
  later may succeed.
- ``STATEMENT``: the database refuses the statement itself (a missing table or column, a
  permission, bad SQL, a read-only database): waiting mends nothing, the run fails.
"""

from __future__ import annotations

import enum

import sqlalchemy as sa


class Failure(enum.Enum):
    """What a database error is about."""

    ROW = "row"
    """One row's values: the row fails alone."""
    CONNECTION = "connection"
    """The connection or the server's state for now: worth trying again."""
    STATEMENT = "statement"
    """The statement itself: the run fails."""


# PostgreSQL: SQLSTATE classes and codes (Appendix A of its manual).
_PG_ROW_CLASSES = ("22", "23")  # data exception, integrity constraint violation
_PG_ROW_CODES = frozenset({"42804", "P0001"})  # datatype mismatch, a trigger's RAISE EXCEPTION
_PG_CONNECTION_CLASSES = ("08", "53", "57P")  # connection, resources, operator intervention
_PG_CONNECTION_CODES = frozenset({"40001", "40P01", "55P03", "57014"})

# MySQL and MariaDB: server error numbers (and the client's, 2000 and up).
_MYSQL_ROW = frozenset(
    {
        1048,  # ER_BAD_NULL_ERROR: Column 'x' cannot be null
        1062,  # ER_DUP_ENTRY
        1171,  # ER_PRIMARY_CANT_HAVE_NULL
        1216,  # ER_NO_REFERENCED_ROW
        1217,  # ER_ROW_IS_REFERENCED
        1263,  # ER_WARN_NULL_TO_NOTNULL
        1264,  # ER_WARN_DATA_OUT_OF_RANGE
        1265,  # WARN_DATA_TRUNCATED
        1292,  # ER_TRUNCATED_WRONG_VALUE (an incorrect date or number)
        1300,  # ER_INVALID_CHARACTER_STRING
        1364,  # ER_NO_DEFAULT_FOR_FIELD
        1366,  # ER_TRUNCATED_WRONG_VALUE_FOR_FIELD (Incorrect integer value, string value)
        1367,  # ER_ILLEGAL_VALUE_FOR_TYPE
        1406,  # ER_DATA_TOO_LONG
        1441,  # ER_DATETIME_FUNCTION_OVERFLOW
        1451,  # ER_ROW_IS_REFERENCED_2 (a foreign key refuses the delete)
        1452,  # ER_NO_REFERENCED_ROW_2 (a foreign key refuses the row)
        1557,  # ER_FOREIGN_DUPLICATE_KEY
        1644,  # ER_SIGNAL_EXCEPTION (a trigger's SIGNAL)
        1690,  # ER_DATA_OUT_OF_RANGE
        3819,  # ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
        4025,  # ER_CONSTRAINT_FAILED (MariaDB's CHECK)
    }
)
_MYSQL_CONNECTION = frozenset(
    {
        1037,  # ER_OUTOFMEMORY
        1038,  # ER_OUT_OF_SORTMEMORY
        1040,  # ER_CON_COUNT_ERROR: Too many connections
        1041,  # ER_OUT_OF_RESOURCES
        1053,  # ER_SERVER_SHUTDOWN
        1077,  # ER_NORMAL_SHUTDOWN
        1079,  # ER_SHUTDOWN_COMPLETE
        1158,  # ER_NET_READ_ERROR
        1159,  # ER_NET_READ_INTERRUPTED
        1160,  # ER_NET_ERROR_ON_WRITE
        1161,  # ER_NET_WRITE_INTERRUPTED
        1205,  # ER_LOCK_WAIT_TIMEOUT
        1213,  # ER_LOCK_DEADLOCK
        1317,  # ER_QUERY_INTERRUPTED
        1927,  # ER_CONNECTION_KILLED (MariaDB)
        1969,  # ER_STATEMENT_TIMEOUT (MariaDB)
        3024,  # ER_QUERY_TIMEOUT (MySQL)
        4031,  # ER_CLIENT_INTERACTION_TIMEOUT
    }
)

# SQLite: primary result codes (the low byte of the extended ones).
_SQLITE_ROW = frozenset({18, 19, 20})  # TOOBIG, CONSTRAINT (any kind), MISMATCH
_SQLITE_CONNECTION = frozenset({5, 6})  # BUSY, LOCKED


def database_message(exc: BaseException) -> str:
    """The database's own message, without SQLAlchemy's statement dump."""
    orig = exc.orig if isinstance(exc, sa.exc.StatementError) else None
    if orig is not None and _mysql_code(orig) is not None and len(orig.args) > 1:
        text = f"{orig.args[1]} (error {orig.args[0]})"
    elif orig is not None:
        text = str(orig) or type(orig).__name__
    else:
        text = str(exc)
    return " ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def failure(exc: BaseException) -> Failure:
    """What ``exc``, raised by SQLAlchemy or a driver under it, is about."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return Failure.CONNECTION
    if isinstance(exc, (sa.exc.DisconnectionError, sa.exc.TimeoutError)):
        return Failure.CONNECTION
    if not isinstance(exc, sa.exc.StatementError):
        return Failure.STATEMENT
    orig = exc.orig
    if not isinstance(exc, sa.exc.DBAPIError):
        # Raised before the database saw the row: a value its column type cannot take.
        return Failure.ROW if isinstance(orig, (TypeError, ValueError)) else Failure.STATEMENT
    module = type(orig).__module__.split(".")[0]
    if module in ("psycopg", "psycopg2", "asyncpg"):
        return _postgresql(orig)
    code = _mysql_code(orig)
    if code is not None:
        return _mysql(code)
    if module == "sqlite3":
        return _sqlite(orig)
    if isinstance(exc, (sa.exc.IntegrityError, sa.exc.DataError)):
        return Failure.ROW
    if isinstance(exc, sa.exc.OperationalError):
        return Failure.CONNECTION
    return Failure.STATEMENT


def _postgresql(orig: BaseException) -> Failure:
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if not state:
        # No SQLSTATE: the client's own error. Raised while connecting (refused, lost), or
        # for a value the driver cannot send.
        if "cannot adapt" in str(orig) or "cannot dump" in str(orig):
            return Failure.ROW
        name = type(orig).__name__
        connecting = name in ("OperationalError", "InterfaceError")
        return Failure.CONNECTION if connecting else Failure.STATEMENT
    if state.startswith(_PG_ROW_CLASSES) or state in _PG_ROW_CODES:
        return Failure.ROW
    if state.startswith(_PG_CONNECTION_CLASSES) or state in _PG_CONNECTION_CODES:
        return Failure.CONNECTION
    return Failure.STATEMENT


def _mysql_code(orig: BaseException) -> int | None:
    """The error number of a MySQL driver's error (PyMySQL, mysqlclient, MySQL Connector)."""
    if type(orig).__module__.split(".")[0] not in ("pymysql", "MySQLdb", "mysql", "mariadb"):
        return None
    errno = getattr(orig, "errno", None)
    if isinstance(errno, int) and errno > 0:
        return errno
    args = getattr(orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _mysql(code: int) -> Failure:
    if code in _MYSQL_ROW:
        return Failure.ROW
    if code in _MYSQL_CONNECTION or 2000 <= code < 3000:  # 2xxx: the client's connection
        return Failure.CONNECTION
    if code == 0:  # PyMySQL's InterfaceError(0, ''): the connection is closed
        return Failure.CONNECTION
    return Failure.STATEMENT


def _sqlite(orig: BaseException) -> Failure:
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        primary = code & 0xFF
        if primary in _SQLITE_ROW:
            return Failure.ROW
        if primary in _SQLITE_CONNECTION:
            return Failure.CONNECTION
        return Failure.STATEMENT
    # Raised by Python's sqlite3 itself, without a result code.
    text = str(orig).lower()
    if "error binding parameter" in text or "constraint failed" in text:
        return Failure.ROW
    if "database is locked" in text:
        return Failure.CONNECTION
    return Failure.STATEMENT
