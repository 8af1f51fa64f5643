"""The numbers that stand for runs, syncs and workspaces in entry rows (``scopes``): given
once, on a scope's first entry, and never changed, so a process may keep them."""

from __future__ import annotations

from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from syncwright.storage.tables import entries, scopes

RUN, SYNC, WORKSPACE = "run", "sync", "workspace"

#: The entries' column of each kind's numbers.
COLUMNS = {RUN: "run_no", SYNC: "sync_no", WORKSPACE: "workspace_no"}


def number(kind: str, uid: str | None) -> sa.ScalarSelect[Any]:
    """The number of ``uid`` as a subquery (none when it has no entry yet, which matches
    nothing), to compare an entries' column with."""
    return (
        sa.select(scopes.c.id).where(scopes.c.kind == kind, scopes.c.uid == uid).scalar_subquery()
    )


def is_one_of(kind: str, uids: Sequence[str]) -> sa.ColumnElement[bool]:
    """The entries of one of ``uids`` (of ``kind``): an equality for one, as the indexes
    read it best."""
    column = entries.c[COLUMNS[kind]]
    if len(uids) == 1:
        return column == number(kind, uids[0])
    return column.in_(
        sa.select(scopes.c.id).where(scopes.c.kind == kind, scopes.c.uid.in_(list(uids)))
    )


class Scopes:
    """Numbers of scopes, given on first use (in a transaction of their own, committed before
    any entry uses them) and then kept in memory."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._known: dict[tuple[str, str], int] = {}

    def numbers(self, wanted: dict[str, str]) -> dict[str, int]:
        """The entries' columns of numbers for ``wanted`` (kind: uid)."""
        missing = [(kind, uid) for kind, uid in wanted.items() if (kind, uid) not in self._known]
        if missing:
            with self.engine.begin() as conn:
                dialect = conn.dialect.name
                insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(scopes)
                conn.execute(
                    insert.on_conflict_do_nothing(index_elements=["kind", "uid"]),
                    [{"kind": kind, "uid": uid} for kind, uid in missing],
                )
                rows = conn.execute(
                    sa.select(scopes.c.kind, scopes.c.uid, scopes.c.id).where(
                        sa.tuple_(scopes.c.kind, scopes.c.uid).in_(missing)
                    )
                ).all()
            for kind, uid, id_ in rows:
                self._known[(kind, uid)] = id_
        return {COLUMNS[kind]: self._known[(kind, uid)] for kind, uid in wanted.items()}
