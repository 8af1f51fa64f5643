"""SQL column types for the Arrow types a model's columns arrive with."""

from __future__ import annotations

import sqlalchemy as sa


def sql_type(arrow_type: str) -> sa.types.TypeEngine[object]:
    name = arrow_type.lower()
    if name in ("int8", "int16", "int32", "uint8", "uint16"):
        return sa.Integer()
    if name.startswith(("int", "uint")):
        return sa.BigInteger()
    if name in ("double", "float", "halffloat", "float64", "float32"):
        return sa.Float()
    if name in ("bool", "boolean"):
        return sa.Boolean()
    if name.startswith("timestamp"):
        return sa.DateTime(timezone="tz=" in name)
    if name.startswith("date"):
        return sa.Date()
    if name.startswith("time"):
        return sa.Time()
    if name.startswith("decimal"):
        return sa.Numeric()
    if name in ("binary", "large_binary"):
        return sa.LargeBinary()
    return sa.Text()
