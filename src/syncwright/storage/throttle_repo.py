"""Failed attempts counted per throttle key, in the store every process of the installation
shares: read before an attempt is checked, one more counted after a failure (each key's row
locked while its policy decides, so processes counting at once lose no failure), forgotten
on a successful sign-in or an unlock."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from syncwright.domain.throttle import Failures, Recorded, ThrottleKey, ThrottlePolicy
from syncwright.storage.tables import throttle_failures as t


def _where(keys: Iterable[ThrottleKey]) -> sa.ColumnElement[bool]:
    return sa.or_(*(sa.and_(t.c.kind == k.kind.value, t.c.key == k.key) for k in keys))


def _insert_if_missing(conn: sa.Connection, key: ThrottleKey, now: datetime) -> None:
    """A row with no failures for the key, unless it has one (INSERT ... ON CONFLICT DO
    NOTHING): the row to lock exists, whoever inserted it."""
    insert: Any = postgresql.insert(t) if conn.dialect.name == "postgresql" else sqlite.insert(t)
    conn.execute(
        insert.values(
            kind=key.kind.value, key=key.key, failures=0, first_at=now, last_at=now
        ).on_conflict_do_nothing()
    )


class ThrottleRepository:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def failures(self, keys: Iterable[ThrottleKey]) -> dict[ThrottleKey, Failures]:
        """The counts of these keys that have any (one query)."""
        wanted = {(k.kind.value, k.key): k for k in keys}
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(_where(wanted.values()))).mappings().all()
        return {
            wanted[(r["kind"], r["key"])]: Failures.from_row(r) for r in rows if r["failures"] > 0
        }

    def count_failure(
        self, counted: Mapping[ThrottleKey, ThrottlePolicy], now: datetime
    ) -> dict[ThrottleKey, Recorded]:
        """One more failure under each key, as its policy records it, in one transaction;
        then the counts of those kinds that hold nothing any more are deleted."""
        recorded: dict[ThrottleKey, Recorded] = {}
        with self.engine.begin() as conn:
            # Keys in one order in every process: two attempts never wait for each other's rows.
            for key in sorted(counted):
                _insert_if_missing(conn, key, now)
                row = (
                    conn.execute(
                        sa.select(t)
                        .where(t.c.kind == key.kind.value, t.c.key == key.key)
                        .with_for_update()
                    )
                    .mappings()
                    .one()
                )
                before = Failures.from_row(row) if row["failures"] > 0 else None
                recorded[key] = found = counted[key].record(before, now)
                if found.counted:
                    conn.execute(
                        t.update()
                        .where(t.c.kind == key.kind.value, t.c.key == key.key)
                        .values(
                            failures=found.failures.count,
                            first_at=found.failures.first_at,
                            last_at=found.failures.last_at,
                        )
                    )
        # Apart, so it waits for no row while holding one (a count being renewed meanwhile
        # is seen renewed, and kept).
        with self.engine.begin() as conn:
            for kind, policy in {k.kind: p for k, p in counted.items()}.items():
                conn.execute(
                    t.delete().where(t.c.kind == kind.value, t.c.last_at < now - policy.kept_for)
                )
        return recorded

    def clear(self, keys: Iterable[ThrottleKey]) -> None:
        """Forget the failures of these keys."""
        keys = list(keys)
        if keys:
            with self.engine.begin() as conn:
                conn.execute(t.delete().where(_where(keys)))
