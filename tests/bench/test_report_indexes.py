"""Every index on the report's entries is read by a query that ``make bench-report`` measures
(or by the engine's own reading of a run's entries), and no measured query scans the table
and sorts it (reading it newest first, the default order, stops at the page's end): an index
nobody reads is write cost on every entry for nothing."""

from __future__ import annotations

import re

import sqlalchemy as sa

from benchmarks import report
from syncwright.services.report import ReportService
from syncwright.storage.store import Store
from syncwright.storage.tables import entries

#: Indexes the engine reads as it records and settles a run's entries (``EntryRepository``:
#: entries already recorded for a batch, sent entries to settle), besides the report.
ENGINE = {"ix_entries_run_no_status_seq"}


def _plans(store: Store, call) -> list[str]:
    """The query plan of each statement on ``entries`` that ``call`` runs (SQLite)."""
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "entries" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", capture)
    plans = []
    with store.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        for statement, parameters in seen:
            rows = raw.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            plans.append("\n".join(str(r[-1]) for r in rows))
    return plans


def test_each_index_serves_a_measured_query_and_none_scans_the_entries(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade()
    try:
        ws, sync_ids, recent = report.fill(store, 200_000)
        service = ReportService(store, ws)
        used: dict[str, set[str]] = {}
        for name, call in report.queries(service, sync_ids, recent).items():
            for plan in _plans(store, call):
                if re.search(r"\bSCAN entries$", plan, re.M) and "TEMP B-TREE" in plan:
                    raise AssertionError(f"{name!r} sorts the whole table:\n{plan}")
                for index in re.findall(r"USING (?:COVERING )?INDEX (\w+)", plan):
                    used.setdefault(index, set()).add(name)
        declared = {index.name for index in entries.indexes}
        unread = declared - set(used) - ENGINE
        assert not unread, f"indexes no measured query reads: {sorted(unread)}"
    finally:
        store.close()
