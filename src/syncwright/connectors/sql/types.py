"""The column type a created table gives each Arrow type, per dialect: the one that holds
every value of the Arrow type as it is (doubles as doubles, microseconds kept, decimals with
their precision and scale, text of any length) and, for a key column, one the database can
index."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

#: The length of a text key column on MySQL and MariaDB, which cannot index TEXT: keys longer
#: than this fail alone as too long.
MYSQL_KEY_LENGTH = 255

_DECIMAL = re.compile(r"decimal(?:32|64|128|256)?\((\d+),\s*(-?\d+)\)")


def _is_mysql(dialect: sa.Dialect) -> bool:
    return dialect.name in ("mysql", "mariadb")


def sql_type(
    arrow_type: str, dialect: sa.Dialect, *, key: bool = False
) -> sa.types.TypeEngine[object]:
    """The column type for a column of ``arrow_type`` (its Arrow name, as ``str(pa.int64())``
    gives it) on ``dialect``; ``key``: the column is part of the primary key."""
    name = arrow_type.lower()
    on_mysql = _is_mysql(dialect)
    if name in ("int8", "int16", "int32", "uint8", "uint16"):
        return sa.Integer()
    if name == "uint64":
        return mysql.BIGINT(unsigned=True) if on_mysql else sa.Numeric(20, 0)
    if name.startswith(("int", "uint")):
        return sa.BigInteger()
    if name in ("double", "float", "halffloat", "float64", "float32", "float16"):
        return sa.Double()
    if name in ("bool", "boolean"):
        return sa.Boolean()
    if name.startswith("timestamp"):
        return mysql.DATETIME(fsp=6) if on_mysql else sa.DateTime(timezone="tz=" in name)
    if name.startswith("date"):
        return sa.Date()
    if name.startswith("time"):
        return mysql.TIME(fsp=6) if on_mysql else sa.Time()
    if name.startswith("decimal"):
        found = _DECIMAL.match(name)
        if found is None:
            return sa.Numeric()
        precision, scale = int(found.group(1)), int(found.group(2))
        return sa.Numeric(precision, max(scale, 0))
    if "binary" in name:
        if not on_mysql:
            return sa.LargeBinary()
        return mysql.VARBINARY(MYSQL_KEY_LENGTH) if key else mysql.LONGBLOB()
    if not on_mysql:
        return sa.Text()
    if key:
        # Compared byte for byte, trailing spaces included: keys that differ only in case
        # or in trailing spaces stay distinct rows, as they are in the model.
        collation = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_bin"
        return mysql.VARCHAR(MYSQL_KEY_LENGTH, collation=collation)
    return mysql.LONGTEXT(charset="utf8mb4")
