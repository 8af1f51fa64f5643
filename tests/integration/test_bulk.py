"""Bulk inserts into the store (COPY on PostgreSQL, one JSON array on SQLite) keep every
value as it was given: any text (a NUL character too, where the database takes it), 64-bit
integers, booleans, NULLs, times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from syncwright.storage.bulk import insert_rows
from syncwright.storage.tables import UTCDateTime

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
ROWS = st.lists(
    st.tuples(
        st.one_of(st.none(), TEXT),
        st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
        st.one_of(st.none(), st.booleans()),
    ),
    max_size=30,
)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request, tmp_path):
    if request.param == "postgres":
        url = request.getfixturevalue("postgres").create_database(f"bulk_{tmp_path.name[-10:]}")
    else:
        url = f"sqlite:///{tmp_path / 'bulk.db'}"
    found = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    yield found
    found.dispose()


def _table() -> sa.Table:
    return sa.Table(
        "items",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label", sa.Text),
        sa.Column("amount", sa.BigInteger),
        sa.Column("flag", sa.Boolean),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=ROWS)
@example(rows=[("a\x00b \\u0000", 2**63 - 1, True), (None, -(2**63), False)])
def test_rows_come_back_as_they_went_in(engine, rows):
    if engine.dialect.name == "postgresql":  # its text cannot hold a NUL character
        rows = [(None if t is None else t.replace("\x00", ""), n, f) for t, n, f in rows]
    table = _table()
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    with engine.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
        insert_rows(conn, table, ["label", "amount", "flag"], rows, {"kind": "it's", "at": at})
    with engine.connect() as conn:
        found = conn.execute(sa.select(table).order_by(table.c.id)).all()
    assert [(r.label, r.amount, r.flag) for r in found] == rows
    # SQLite keeps times without their zone (the store's are UTC).
    assert {(r.kind, r.at.replace(tzinfo=UTC)) for r in found} <= {("it's", at)}
