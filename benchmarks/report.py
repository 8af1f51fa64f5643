"""Sync report queries on a large store: the first page of each filter, on SQLite and on
PostgreSQL (started on loopback), through the report service as the CLI and API call it.

    python -m benchmarks.report                      # 10M entries, both backends
    python -m benchmarks.report --entries 1000000 --backend sqlite

The store is filled in SQL (a realistic spread: 50 syncs, runs of 20k entries over 15 days,
97% ok, 2% failed with a few reasons, removals and pending items), with the schema's own
indexes built after the load. Each query runs 3 times to warm up, then ``--repeat`` times;
the table shows the median and the 95th percentile in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import sqlalchemy as sa

from syncwright.domain.clock import utcnow
from syncwright.domain.statuses import EntryStatus, Operation
from syncwright.services.report import ReportService
from syncwright.storage.changesets_repo import ChangeSetRepository
from syncwright.storage.entry_rows import ITEM_SCHEMA
from syncwright.storage.scopes import RUN, SYNC, WORKSPACE
from syncwright.storage.store import Store
from syncwright.storage.tables import entries, runs

#: Entries per change set record, as a sync's batch size.
BATCH = 10_000
#: Runs of the last 3 days keep their change set records: the payloads the report shows.
PAYLOAD_DAYS = 3

SYNCS = 50
RUN_SIZE = 20_000
ITEMS = 200_000  # distinct items per sync
TARGET_MS = 100.0


def _configure(store: Store) -> tuple[str, list[str]]:
    ws = store.config.ensure_workspace("bench")
    with store.engine.begin() as conn:
        src, _ = store.config.save(conn, "source", ws, "src", {"type": "sql", "config": {}})
        model, _ = store.config.save(
            conn,
            "model",
            ws,
            "model",
            {
                "source_id": src,
                "query": "q",
                "primary_key": ["id"],
                "reference": None,
                "cursor": None,
            },
        )
        sync_ids = []
        for n in range(SYNCS):
            dst, _ = store.config.save(
                conn,
                "destination",
                ws,
                f"shop{n % 5}" if n < 5 else f"d{n}",
                {"type": "sql", "config": {}},
            )
            sync, _ = store.config.save(
                conn,
                "sync",
                ws,
                f"sync{n}",
                {
                    "model_id": model,
                    "destination_id": dst,
                    "type": "resources_update",
                    "write_mode": "mirror",
                    "detection": "diff",
                    "enabled": True,
                    "folder": None,
                    "labels": [],
                    "settings": {},
                },
            )
            sync_ids.append(sync)
    return ws, sync_ids


def fill(store: Store, total: int) -> tuple[str, list[str], list[str]]:
    """Insert ``total`` entries spread over 15 days, then build the indexes."""
    ws, sync_ids = _configure(store)
    now = utcnow()
    span = timedelta(days=15).total_seconds()
    run_count = max(1, total // RUN_SIZE)
    run_rows = []
    for r in range(run_count):
        created = now - timedelta(seconds=span * (1 - r / run_count))
        run_rows.append(
            {
                "id": str(uuid.UUID(int=r + 1)),
                "workspace_id": ws,
                "sync_id": sync_ids[r % SYNCS],
                "type": "resources_update",
                "trigger": "schedule",
                "mode": "incremental",
                "status": "succeeded",
                "failed": RUN_SIZE * 2 // 100,  # as the entries below: 2% failed
                "infos": {},
                "created_at": created,
                "started_at": created,
                "ended_at": created,
                "ran_at": created,
                "updated_at": created,
            }
        )
    postgres = store.dialect == "postgresql"
    numbered = store.entries.scopes.numbers
    ws_no = numbered({WORKSPACE: ws})["workspace_no"]
    sync_no = {s: numbered({SYNC: s})["sync_no"] for s in sync_ids}
    with store.engine.begin() as conn:
        conn.execute(runs.insert(), run_rows)
    run_no = {r["id"]: numbered({RUN: r["id"]})["run_no"] for r in run_rows}
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TEMPORARY TABLE bench_runs (n INTEGER PRIMARY KEY, run_no BIGINT,"
                " sync_no BIGINT, created TIMESTAMP)"
            )
        )
        conn.execute(
            sa.text("INSERT INTO bench_runs VALUES (:n, :run_no, :sync_no, :created)"),
            [
                {
                    "n": n,
                    "run_no": run_no[r["id"]],
                    "sync_no": sync_no[r["sync_id"]],
                    "created": r["created_at"].replace(tzinfo=None),
                }
                for n, r in enumerate(run_rows)
            ],
        )
    for index in entries.indexes:
        with store.engine.begin() as conn:
            index.drop(conn)
    numbers = (
        f"generate_series(CAST(0 AS BIGINT), {total - 1}) AS s(i)"
        if postgres
        else f"(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {total - 1}) SELECT i FROM s) AS s"
    )
    # Integer division: PostgreSQL's div(a, b); SQLite's a / b on integers.
    run_of = f"div(s.i, {RUN_SIZE})" if postgres else f"(s.i / {RUN_SIZE})"
    created = "b.created" if postgres else "strftime('%Y-%m-%d %H:%M:%f000', b.created)"
    item = f"((s.i * 7919) % {ITEMS})"
    status = (
        "CASE WHEN s.i % 100 < 2 THEN 'failed' WHEN s.i % 200 = 2 THEN 'pending'"
        " WHEN s.i % 200 = 3 THEN 'sent' ELSE 'ok' END"
    )
    reasons = (
        "CASE WHEN s.i % 3 = 0 THEN 'HTTP 422: price ' || (s.i % 1000) || ' below the floor'"
        " WHEN s.i % 3 = 1 THEN 'category ' || (s.i % 97) || ' unknown'"
        " ELSE 'HTTP 503 Service Unavailable (gave up after 5 attempts)' END"
    )
    groups = (
        "CASE WHEN s.i % 3 = 0 THEN 'HTTP 422: price <n> below the floor'"
        " WHEN s.i % 3 = 1 THEN 'category <n> unknown'"
        " ELSE 'HTTP 503 Service Unavailable (gave up after <n> attempts)' END"
    )
    cast = "CAST({} AS TEXT)"
    seq = f"(s.i % {RUN_SIZE})"
    batch = f"div({seq}, {BATCH})" if postgres else f"({seq} / {BATCH})"
    sql = f"""
        INSERT INTO entries (run_no, sync_no, workspace_no, seq, batch, item_key, reference,
            system, source_id, endpoint_id, operation, status, attempts, error, error_group,
            retry_of, row_hash, created_at, updated_at)
        SELECT b.run_no, b.sync_no, {ws_no}, CAST({seq} AS INTEGER), CAST({batch} AS INTEGER),
            '{{"id":' || {cast.format(item)} || '}}', 'SKU-' || {cast.format(item)},
            'shop' || {cast.format(f"({run_of} % 5)")}, {cast.format(item)},
            'gid://' || {cast.format(item)},
            CASE WHEN s.i % 10 = 0 THEN 'remove' WHEN s.i % 10 < 3 THEN 'add' ELSE 'change' END,
            {status}, CASE WHEN s.i % 100 < 2 THEN 5 ELSE 1 END,
            CASE WHEN s.i % 100 < 2 THEN {reasons} END,
            CASE WHEN s.i % 100 < 2 THEN {groups} END,
            NULL, 'h', {created}, {created}
        FROM {numbers} JOIN bench_runs b ON b.n = {run_of}
    """
    with store.engine.begin() as conn:
        conn.execute(sa.text(sql))
    for index in entries.indexes:
        with store.engine.begin() as conn:
            index.create(conn)
    _records(store.changesets, run_rows, now - timedelta(days=PAYLOAD_DAYS))
    if postgres:
        # What autovacuum does to a store in use; otherwise it starts on the fresh 10M rows
        # in the middle of the measurements.
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    else:
        with store.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    recent = [r["id"] for r in run_rows[-3:]]
    return ws, sync_ids, recent


def _records(changesets: ChangeSetRepository, run_rows: list[dict[str, Any]], since: Any) -> None:
    """The change set records of the runs created since ``since``, as the engine keeps them
    after a run: the items as sent (the entries' payloads), ``BATCH`` to a record."""
    import pyarrow as pa

    for n, r in enumerate(run_rows):
        if r["created_at"] < since:
            continue
        seqs = range(RUN_SIZE)
        items = [((n * RUN_SIZE + q) * 7919) % ITEMS for q in seqs]
        table = pa.Table.from_pydict(
            {
                "seq": list(seqs),
                "item_key": [f'{{"id":{i}}}' for i in items],
                "source_id": [str(i) for i in items],
                "reference": [f"SKU-{i}" for i in items],
                "operation": [
                    "remove" if q % 10 == 0 else "add" if q % 10 < 3 else "change" for q in seqs
                ],
                "row_hash": ["h"] * RUN_SIZE,
                "payload": [
                    f'{{"id":{i},"sku":"SKU-{i}","name":"Product {i}","price":{i % 997}.5}}'
                    for i in items
                ],
                "retry_of": [None] * RUN_SIZE,
            },
            schema=ITEM_SCHEMA,
        )
        with changesets.engine.begin() as conn:
            changesets.save(conn, r["id"], table.to_batches(), BATCH)


def _timed(call: Callable[[], Any], repeat: int) -> tuple[float, float, int]:
    for _ in range(3):
        call()
    samples = []
    size = 0
    for _ in range(repeat):
        started = time.perf_counter()
        found = call()
        samples.append((time.perf_counter() - started) * 1000)
        size = len(getattr(found, "entries", found))
    median, p95 = spread(samples)
    return median, p95, size


def spread(samples: list[float]) -> tuple[float, float]:
    """The median and the 95th percentile."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[
        min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))
    ]


def queries(
    report: ReportService, sync_ids: list[str], recent: list[str]
) -> dict[str, Callable[[], Any]]:
    failed = (EntryStatus.FAILED,)
    page = report.page
    cursor = page(statuses=failed).next
    return {
        "newest (5 days)": lambda: page(),
        "status failed": lambda: page(statuses=failed),
        "status failed, next page": lambda: page(statuses=failed, after=cursor),
        "one sync": lambda: page(sync="sync7"),
        "one sync, failed": lambda: page(sync="sync7", statuses=failed),
        "one run": lambda: page(run_id=recent[0]),
        "one run, failed": lambda: page(run_id=recent[0], statuses=failed),
        "reference exact": lambda: page(reference="SKU-123457"),
        "reference prefix": lambda: page(reference="SKU-1234", prefix=True),
        "operation remove": lambda: page(operations=(Operation.REMOVE,)),
        "system shop3": lambda: page(system="shop3"),
        "destination shop3": lambda: page(destination="shop3"),
        "15 days, by reference": lambda: page(days=15, sort="reference", descending=False),
        "newest, with latest status": lambda: page(latest=True),
        "error group of a sync": lambda: page(sync="sync7", error_group="category <n> unknown"),
        "history of a reference": lambda: report.history("SKU-4242"),
        "error groups of a sync (all)": lambda: report.error_groups(sync="sync7"),
    }


def bench(
    url: str, label: str, total: int, repeat: int
) -> list[tuple[str, str, float, float, int]]:
    store = Store.open(url)
    store.upgrade()
    started = time.perf_counter()
    ws, sync_ids, recent = fill(store, total)
    print(
        f"{label}: {total:,} entries loaded and indexed in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    report = ReportService(store, ws)
    rows = []
    for name, call in queries(report, sync_ids, recent).items():
        median, p95, size = _timed(call, repeat)
        rows.append((label, name, median, p95, size))
    store.close()
    return rows


def arguments(description: str, argv: list[str] | None) -> argparse.Namespace:
    """The options both large-store benchmarks take."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=20)
    return parser.parse_args(argv)


def on_backends(backend: str, run: Callable[[str, str], None]) -> None:
    """``run(label, store_url)`` on a new SQLite file and/or a PostgreSQL database on a
    server started on loopback for the occasion."""
    if backend in ("sqlite", "both"):
        folder = Path(tempfile.mkdtemp(prefix="syncwright-bench-"))
        run("SQLite", f"sqlite:///{folder / 'store.db'}")
    if backend in ("postgres", "both"):
        from tests.support.postgres import PostgresServer

        server = PostgresServer().start()
        try:
            run("PostgreSQL", server.create_database("bench"))
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__ or "", argv)
    print(f"Report queries, first page of 100, {args.entries:,} entries, {args.repeat} runs each")
    on_backends(args.backend, lambda label, url: show(bench(url, label, args.entries, args.repeat)))


def show(rows: list[tuple[str, str, float, float, int]]) -> None:
    print(f"\n| backend | query | median ms | p95 ms | rows | under {TARGET_MS:g} ms |")
    print("|---|---|---:|---:|---:|:-:|")
    for label, name, median, p95, size in rows:
        ok = "yes" if median < TARGET_MS else "NO"
        print(f"| {label} | {name} | {median:.1f} | {p95:.1f} | {size} | {ok} |", flush=True)


if __name__ == "__main__":
    main()
