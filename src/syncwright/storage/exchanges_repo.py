"""What went to the destination and came back for failed entries (the request after
templates, the answer's status and body), kept beside the entries for the failed item's page."""

from __future__ import annotations

from typing import Any, Mapping

import sqlalchemy as sa

from syncwright.domain.statuses import EntryStatus
from syncwright.sdk.changes import capped_exchange
from syncwright.storage.scopes import RUN, number
from syncwright.storage.tables import entries, entry_exchanges


def keep_exchanges(
    conn: sa.Connection, run_id: str, told: list[tuple[int, Mapping[str, Any]]]
) -> None:
    """In the caller's transaction (the one recording the entries): keep the exchanges of
    the failed items ``told`` (by their place in the run), bodies capped; a batch recorded
    again replaces its own."""
    if not told:
        return
    by_seq = dict(told)
    found = conn.execute(
        sa.select(entries.c.id, entries.c.seq).where(
            entries.c.run_no == number(RUN, run_id),
            entries.c.status == EntryStatus.FAILED.value,
            entries.c.seq.in_(list(by_seq)),
        )
    ).all()
    if not found:
        return
    ids = [entry_id for entry_id, _ in found]
    conn.execute(entry_exchanges.delete().where(entry_exchanges.c.entry_id.in_(ids)))
    conn.execute(
        entry_exchanges.insert(),
        [{"entry_id": i, "exchange": capped_exchange(by_seq[seq])} for i, seq in found],
    )


class ExchangeRepository:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def of(self, entry_id: int) -> dict[str, Any] | None:
        """What went to the destination and came back for this failed entry, if it said."""
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(entry_exchanges.c.exchange).where(entry_exchanges.c.entry_id == entry_id)
            ).scalar_one_or_none()
