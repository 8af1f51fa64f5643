"""Fresh databases on each tested server (SQLite, PostgreSQL, MariaDB), and a product
catalogue that can live on any of them."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

#: The databases the SQL connectors are tested on.
DATABASES = ("sqlite", "postgres", "mariadb")
_ids = itertools.count()


def database_params() -> list[Any]:
    """Parameters for a fixture over ``DATABASES`` (MariaDB's marked ``mariadb``)."""
    return [
        pytest.param(kind, marks=[getattr(pytest.mark, kind)] if kind != "sqlite" else [])
        for kind in DATABASES
    ]


def new_database(request: pytest.FixtureRequest, kind: str, folder: Path, prefix: str) -> str:
    """The URL of a new, empty database on the ``kind`` server (a file in ``folder`` for
    SQLite), named from ``prefix``."""
    name = f"{prefix}_{next(_ids)}"
    if kind == "sqlite":
        return f"sqlite:///{folder / name}.db"
    if kind == "postgres":
        return request.getfixturevalue("postgres").create_database(name)
    if kind == "mariadb":
        return request.getfixturevalue("mariadb").create_database(name)
    raise ValueError(f"not a tested database: {kind}")


def kind_of(url: str) -> str:
    """Which of ``DATABASES`` a URL names."""
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    return {"postgresql": "postgres", "mysql": "mariadb", "mariadb": "mariadb"}.get(scheme, scheme)


def engine_for(url: str) -> sa.Engine:
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


#: When ``changed_at`` starts; a row's default is this plus its id in seconds.
EPOCH = datetime(2026, 1, 1, 8, 0, 0, 250_000)


class Shop:
    """A ``products`` table on any database: a numeric (``seq``) and a timestamp
    (``changed_at``, with microseconds) column a cursor can follow."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = engine_for(url)
        self.table = sa.Table(
            "products",
            sa.MetaData(),
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("sku", sa.String(40)),
            sa.Column("name", sa.String(100)),
            sa.Column("price", sa.Double),
            sa.Column("seq", sa.BigInteger),
            sa.Column("changed_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")),
        )
        self.table.create(self.engine)

    def put(self, *rows: dict[str, Any]) -> None:
        """Add or replace rows (by id); unnamed fields take defaults from the id."""
        full = [
            {
                "sku": f"SKU-{r['id']}",
                "name": f"item {r['id']}",
                "price": 1.0,
                "seq": 1,
                "changed_at": EPOCH + timedelta(seconds=r["id"]),
                **r,
            }
            for r in rows
        ]
        with self.engine.begin() as conn:
            conn.execute(self.table.delete().where(self.table.c.id.in_([r["id"] for r in full])))
            conn.execute(self.table.insert(), full)

    def remove(self, *ids: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.table.delete().where(self.table.c.id.in_(ids)))

    def rows(self) -> dict[int, dict[str, Any]]:
        with self.engine.connect() as conn:
            return {r["id"]: dict(r) for r in conn.execute(sa.select(self.table)).mappings()}

    def close(self) -> None:
        self.engine.dispose()


def rows_of(url: str, table: str = "products") -> dict[Any, dict[str, Any]]:
    """Every row of ``table`` by its ``id`` (empty when there is no such table)."""
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                return {}
            typed = sa.Table(table, sa.MetaData(), autoload_with=conn)
            return {r["id"]: dict(r) for r in conn.execute(sa.select(typed)).mappings()}
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    """Run statements on the database of ``url``, in one transaction."""
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()
