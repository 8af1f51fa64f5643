"""The store on SQLite and PostgreSQL: migrations and the run record."""

from __future__ import annotations

import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from syncwright.domain.clock import utcnow
from syncwright.domain.errors import IllegalTransition, NotFound
from syncwright.domain.report import EntryFilter, ReportQuery
from syncwright.domain.retention import Retention
from syncwright.domain.statuses import EntryStatus, Operation, RunMode, RunStatus, Trigger
from syncwright.sdk.changes import ItemResult
from syncwright.storage.database import current_revision, head_revision, upgrade
from syncwright.storage.entry_rows import PendingItems
from syncwright.storage.retention_repo import Purged
from syncwright.storage.scopes import RUN, number
from syncwright.storage.snapshots_repo import part
from syncwright.storage.store import Store
from syncwright.storage.tables import entries, metadata, runs
from tests.support.examples import SEED_RUN_FIELDS


def test_migrations_reach_head_and_are_idempotent(store):
    assert current_revision(store.engine) == head_revision()
    store.upgrade()
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {
        "workspaces",
        "users",
        "sources",
        "models",
        "destinations",
        "syncs",
        "runs",
        "entries",
        "snapshots",
        "snapshot_parts",
        "run_batches",
    } <= tables


def test_migrations_build_exactly_the_declared_tables(store):
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def _old_run(store: Store, ws: str, sync: str, now) -> SimpleNamespace:
    """A run as the store held it before runs carried ``ran_at`` (migration 0015)."""
    run_id = str(uuid.uuid4())
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                'INSERT INTO runs (id, workspace_id, sync_id, type, "trigger", mode, status,'
                " infos, created_at, updated_at) VALUES (:id, :ws, :sync, 't', 'manual',"
                " 'incremental', 'queued', '{}', :now, :now)"
            ),
            {"id": run_id, "ws": ws, "sync": sync, "now": now},
        )
    return SimpleNamespace(id=run_id)


def test_runs_made_before_they_carried_when_they_ran_are_ordered_by_it(store_url):
    """Migration 0015: a run's ``ran_at`` is when it started, else was planned for, else was
    created; lists of runs then go by it."""
    store = Store.open(store_url)
    try:
        upgrade(store.engine, "0014")
        ws, sync = _sync(store)
        now = utcnow()
        queued = _old_run(store, ws, sync, now - timedelta(hours=3))
        started = _old_run(store, ws, sync, now - timedelta(hours=2))  # started after
        planned = _old_run(store, ws, sync, now - timedelta(hours=1))  # due before it started
        with store.engine.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == started.id)
                .values(started_at=now - timedelta(minutes=5), status="succeeded")
            )
            # Rows that refer to the runs: the migration must not copy the table under them.
            conn.execute(
                sa.text(
                    "INSERT INTO artifacts (id, run_id, sync_id, workspace_id, location, size,"
                    " checksum, rows, content_type, created_at) VALUES ('a1', :run, :sync,"
                    " :ws, 'file:///x.csv', 1, 'sha256:0', 1, 'text/csv', :now)"
                ),
                {"run": started.id, "sync": sync, "ws": ws, "now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO run_batches (run_id, batch, items, data) VALUES (:run, 0, 1, :d)"
                ),
                {"run": queued.id, "d": b"x"},
            )
            conn.execute(
                runs.update()
                .where(runs.c.id == planned.id)
                .values(scheduled_for=now - timedelta(minutes=30), status="scheduled")
            )
        upgrade(store.engine, "head")
        assert store.artifacts.for_run(started.id) is not None  # nothing referring was lost
        listed = store.runs.list(ws)
        assert [r.id for r in listed] == [started.id, planned.id, queued.id]
        assert listed[0].when == now - timedelta(minutes=5)
        assert listed[1].when == now - timedelta(minutes=30)
        assert listed[2].when == now - timedelta(hours=3)
        # The last run that ran is the started one, not the planned one nor the one made last.
        assert store.runs.latest_per_sync(ws)[sync].id == started.id
    finally:
        store.close()


def test_entries_written_before_the_lean_ledger_read_the_same_after_it(store_url):
    """Migration 0013 gives runs, syncs and workspaces numbers in place of their ids in
    entry rows; entries written before keep their ids (as read back), order and payload."""
    store = Store.open(store_url)
    try:
        upgrade(store.engine, "0012")
        ws, sync = _sync(store)
        now = utcnow()
        made = [_old_run(store, ws, sync, now) for _ in range(2)]
        with store.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO entries (run_id, sync_id, workspace_id, seq, item_key,"
                    " reference, system, source_id, operation, status, attempts, payload,"
                    " created_at, updated_at) VALUES (:run, :sync, :ws, :seq, :key, :ref, 'd',"
                    " :key, 'add', :status, 1, :payload, :now, :now)"
                ),
                [
                    {
                        "run": made[i % 2].id,
                        "sync": sync,
                        "ws": ws,
                        "seq": i,
                        "key": f'{{"id":{i}}}',
                        "ref": f"R{i}",
                        "status": "failed" if i == 3 else "ok",
                        "payload": f'{{"id":{i}}}',
                        "now": now,
                    }
                    for i in range(6)
                ],
            )
        store.upgrade()
        assert current_revision(store.engine) == head_revision()
        page = store.report.page(ReportQuery(filter=EntryFilter(workspace_id=ws), limit=10))
        assert [(e.seq, e.run_id, e.sync_id) for e in page.entries] == [
            (i, made[i % 2].id, sync) for i in reversed(range(6))
        ]
        assert [e.payload for e in page.entries] == [f'{{"id":{i}}}' for i in reversed(range(6))]
        assert store.entries.count_by_status(made[1].id) == {"ok": 2, "failed": 1}
        assert store.entries.payloads_with_status(
            made[1].id, EntryStatus.FAILED, store.changesets
        ) == ['{"id":3}']
        # Numbers go on from those the migration gave.
        fresh = store.runs.create(
            workspace_id=ws,
            sync_id=sync,
            type="t",
            trigger=Trigger.MANUAL,
            mode=RunMode.INCREMENTAL,
        )
        items = PendingItems.of_rows(_added(2))
        base = {"sync_id": sync, "workspace_id": ws, "system": "d", "batch": 0}
        store.entries.record(fresh.id, sync, items, [ItemResult.ok()] * 2, base=base)
        runs_seen = store.report.page(ReportQuery(filter=EntryFilter(workspace_id=ws), limit=10))
        assert [e.run_id for e in runs_seen.entries[:2]] == [fresh.id, fresh.id]
        with store.engine.connect() as conn:
            assert (
                conn.execute(sa.select(sa.func.count(sa.distinct(entries.c.run_no)))).scalar_one()
                == 3
            )
    finally:
        store.close()


def test_sqlite_store_uses_wal(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


def test_a_run_carries_the_synchronisation_record(store):
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("runs")}
    assert (
        SEED_RUN_FIELDS
        | {"sync_id", "trigger", "mode", "read", "added", "changed", "removed", "ok", "failed"}
        <= columns
    )


def _sync(store):
    ws = store.config.ensure_workspace("w")
    with store.engine.begin() as conn:
        src, _ = store.config.save(
            conn, "source", ws, "s", {"type": "sql", "config": {"url": "sqlite://"}}
        )
        dst, _ = store.config.save(
            conn,
            "destination",
            ws,
            "d",
            {"type": "sql", "config": {"url": "sqlite://", "table": "t"}},
        )
        model, _ = store.config.save(
            conn,
            "model",
            ws,
            "m",
            {
                "source_id": src,
                "query": "q",
                "primary_key": ["id"],
                "reference": None,
                "cursor": None,
            },
        )
        sync, _ = store.config.save(
            conn,
            "sync",
            ws,
            "y",
            {
                "model_id": model,
                "destination_id": dst,
                "type": "resources_update",
                "write_mode": "upsert",
                "detection": "diff",
                "enabled": True,
                "folder": None,
                "labels": [],
                "settings": {},
            },
        )
    return ws, sync


def test_transitions_are_persisted_and_illegal_ones_refused(store):
    ws, sync = _sync(store)
    run = store.runs.create(
        workspace_id=ws,
        sync_id=sync,
        type="resources_update",
        trigger=Trigger.MANUAL,
        mode=RunMode.INCREMENTAL,
    )
    assert run.status is RunStatus.QUEUED and run.created_at.tzinfo is not None
    querying = store.runs.transition(
        run.id, RunStatus.QUERYING, runner="w1", started=True, infos={"progress": {"done": 0}}
    )
    assert querying.started_at and querying.runner == "w1" and querying.infos["stage"] == "querying"
    assert querying.updated_at >= run.updated_at
    with pytest.raises(IllegalTransition):
        store.runs.transition(run.id, RunStatus.QUEUED)
    store.runs.transition(run.id, RunStatus.FAILED, infos={"error": "boom"}, ended=True)
    failed = store.runs.get(run.id)
    assert failed.error == "boom" and failed.ended_at and failed.infos["progress"] == {"done": 0}
    with pytest.raises(IllegalTransition):
        store.runs.transition(run.id, RunStatus.SUCCEEDED)


def test_saving_config_is_idempotent(store):
    ws, _ = _sync(store)
    with store.engine.begin() as conn:
        _, action = store.config.save(
            conn, "source", ws, "s", {"type": "sql", "config": {"url": "sqlite://"}}
        )
        assert action == "unchanged"
        _, action = store.config.save(
            conn, "source", ws, "s", {"type": "sql", "config": {"url": "sqlite:///x"}}
        )
        assert action == "updated"


def _added(count):
    """Change set rows of ``count`` added items."""
    return [
        {
            "seq": i,
            "item_key": f'{{"id":{i}}}',
            "source_id": str(i),
            "reference": f"R{i}",
            "operation": Operation.ADD.value,
            "row_hash": "h",
            "payload": f'{{"id":{i}}}',
        }
        for i in range(count)
    ]


def _new_run(store, ws, sync):
    """A manual run of the sync, just created."""
    return store.runs.create(
        workspace_id=ws, sync_id=sync, type="t", trigger=Trigger.MANUAL, mode=RunMode.INCREMENTAL
    )


def _run_with_entries(store, ws, sync, count, *, age=timedelta(0)):
    """A finished run of ``count`` delivered entries, created ``age`` ago."""
    run = _new_run(store, ws, sync)
    items = PendingItems.of_rows(_added(count))
    with store.engine.begin() as conn:
        store.changesets.save(conn, run.id, items.table.to_batches(), count)
    # All delivered but the last, which waits for another attempt.
    results = [ItemResult.ok()] * (count - 1)
    results.append(ItemResult(status=EntryStatus.PENDING, error="busy"))
    base = {"sync_id": sync, "workspace_id": ws, "system": "d", "batch": 0}
    store.entries.record(run.id, sync, items, results, base=base)
    for status in (RunStatus.QUERYING, RunStatus.PREPARING, RunStatus.IN_PROGRESS):
        store.runs.transition(run.id, status)
    store.runs.transition(run.id, RunStatus.INCOMPLETE, ended=True)
    then = utcnow() - age
    with store.engine.begin() as conn:
        mine = entries.c.run_no == number(RUN, run.id)
        conn.execute(entries.update().where(mine).values(created_at=then))
        conn.execute(
            runs.update().where(runs.c.id == run.id).values(created_at=then, ended_at=then)
        )
    return run.id


def _payloads(store, run_id):
    """How many of the run's entries the report shows with what was sent."""
    ws = store.runs.get(run_id).workspace_id
    page = store.report.page(ReportQuery(filter=EntryFilter(workspace_id=ws, run_id=run_id)))
    return sum(e.payload is not None for e in page.entries)


def test_purge_removes_only_what_the_retention_no_longer_keeps(store):
    ws, sync = _sync(store)
    old = _run_with_entries(store, ws, sync, 25, age=timedelta(days=16))
    aged = _run_with_entries(store, ws, sync, 12, age=timedelta(days=4))
    fresh = _run_with_entries(store, ws, sync, 9)
    now = utcnow()

    assert _payloads(store, aged) == 12 and _payloads(store, fresh) == 9
    purged = store.retention.purge(Retention(), now, batch=7)
    # 25 entries past 15 days; the payloads (kept in their change sets) of that run and of
    # the 4-day-old one.
    assert purged == Purged(entries=25, payloads=25 + 12, runs_hidden=1, runs_purged=0)
    assert store.entries.count_by_status(old) == {}
    assert store.entries.count_by_status(aged) == {"ok": 11, "pending": 1}
    assert _payloads(store, aged) == 0 and _payloads(store, fresh) == 9
    assert store.entries.count_by_status(fresh) == {"ok": 8, "pending": 1}
    assert store.runs.get(old).deleted_at is not None
    assert old not in {r.id for r in store.runs.list(ws)}
    assert {aged, fresh} <= {r.id for r in store.runs.list(ws)}

    # Nothing more to do at once; a day later the hidden run goes for good.
    assert store.retention.purge(Retention(), now) == Purged()
    later = store.retention.purge(Retention(), now + timedelta(days=1, minutes=1))
    assert later.runs_purged == 1
    with pytest.raises(NotFound):
        store.runs.get(old)
    assert store.runs.get(aged).deleted_at is None
    # A shorter payload retention drops the newest run's too.
    assert store.retention.purge(Retention(payload_hours=0), now).payloads == 9
    assert _payloads(store, fresh) == 0


def test_a_late_recording_of_an_ended_first_load_is_not_part_of_the_snapshot_base(store):
    """A first load's delivered items make the snapshot's base; but a batch of a cancelled
    first load recorded late (after the next run may have begun, a first load too) is a
    newer part, so the base never names an item twice."""
    ws, sync = _sync(store)
    run = _new_run(store, ws, sync)
    for status in (RunStatus.QUERYING, RunStatus.PREPARING, RunStatus.IN_PROGRESS):
        store.runs.transition(run.id, status)
    rows = _added(6)
    base = {"sync_id": sync, "workspace_id": ws, "system": "d", "batch": 0}
    ok = [ItemResult.ok()] * 3
    store.entries.record(
        run.id, sync, PendingItems.of_rows(rows[:3]), ok, base=base, snapshot_base=True
    )
    log = store.snapshots.read(sync)
    assert log.folded and log.base_parts == 1
    store.runs.transition(run.id, RunStatus.ABORTED, ended=True)
    store.entries.record(
        run.id, sync, PendingItems.of_rows(rows[3:]), ok, base=base, snapshot_base=True
    )
    log = store.snapshots.read(sync)
    assert not log.folded and (log.base_parts, len(log.parts)) == (1, 2)
    assert store.snapshots.count(sync) == 6


def test_a_fold_gives_way_to_a_part_recorded_after_the_snapshot_was_read(store):
    """A run folds the log it read into a new base; a part recorded since (a late
    recording) would be older than that base and lost with the log: the fold waits for the
    next run, and the part stays."""
    ws, sync = _sync(store)
    one = part(['{"id":1}', '{"id":2}'], ["A", "B"], ["h1", "h2"], [False, False])
    late = part(['{"id":2}'], ["B"], ["h2b"], [False])
    with store.engine.begin() as conn:
        store.snapshots.append(conn, sync, one)
    read = store.snapshots.read(sync)
    with store.engine.begin() as conn:
        store.snapshots.append(conn, sync, late)
    with store.engine.begin() as conn:
        assert not store.snapshots.fold(conn, sync, one.to_batches(), through=read.last_part)
    log = store.snapshots.read(sync)
    assert len(log.parts) == 2 and log.parts[-1][1].column("row_hash").to_pylist() == ["h2b"]
    with store.engine.begin() as conn:
        assert store.snapshots.fold(conn, sync, one.to_batches(), through=log.last_part)
    assert store.snapshots.read(sync).folded and store.snapshots.count(sync) == 2


def test_entry_rows_keep_every_value_as_recorded(store):
    """Texts with separators, quotes, line breaks and non-ASCII, an empty text beside a
    null, and the recording's time, read back exactly (PostgreSQL takes them as CSV)."""
    ws, sync = _sync(store)
    run = _new_run(store, ws, sync)
    odd = ["a,b", 'say "hi"', "two\nlines", "ünïcödé ✓", "", "\\N", "NULL"]
    rows = [
        {**row, "item_key": f'{{"id":"{text}"}}', "reference": text, "source_id": text}
        for row, text in zip(_added(len(odd)), odd)
    ]
    results = [
        ItemResult.failed(text, retryable=False) if i % 2 else ItemResult.ok(endpoint_id=text)
        for i, text in enumerate(odd)
    ]
    base = {"sync_id": sync, "workspace_id": ws, "system": "d", "batch": 0}
    before = utcnow()
    store.entries.record(run.id, sync, PendingItems.of_rows(rows), results, base=base)
    page = store.report.page(ReportQuery(filter=EntryFilter(workspace_id=ws), limit=20))
    found = {e.seq: e for e in page.entries}
    assert len(found) == len(odd)
    for i, text in enumerate(odd):
        e = found[i]
        assert (e.reference, e.source_id) == (text, text)
        assert (e.error, e.endpoint_id) == ((text, None) if i % 2 else (None, text))
        assert e.run_id == run.id and e.sync_id == sync
        assert before <= e.created_at <= utcnow() and e.created_at.tzinfo is not None


def test_an_endpoint_id_given_as_a_number_is_kept_as_text(store):
    """A destination that answers with a number for an endpoint id (or an error) still has
    its batch recorded, on both stores."""
    ws, sync = _sync(store)
    run = _new_run(store, ws, sync)
    base = {"sync_id": sync, "workspace_id": ws, "system": "d", "batch": 0}
    results = [ItemResult.ok(endpoint_id=42), ItemResult(status=EntryStatus.FAILED, error=503)]
    store.entries.record(run.id, sync, PendingItems.of_rows(_added(2)), results, base=base)
    page = store.report.page(ReportQuery(filter=EntryFilter(workspace_id=ws), limit=5))
    assert {(e.seq, e.endpoint_id, e.error) for e in page.entries} == {
        (0, "42", None),
        (1, None, "503"),
    }


def test_a_worker_that_leaves_is_taken_over_at_once(store):
    now = utcnow()
    store.workers.beat("engine-a", "host:1", now)
    store.workers.beat("engine-b", "host:2", now)
    assert store.workers.silent_since(now - timedelta(seconds=60)) == []
    # A clean shutdown may leave a workflow its engine had not closed: its row stays, silent.
    store.workers.leave("engine-a")
    silent = store.workers.silent_since(now - timedelta(seconds=60))
    assert [w.executor_id for w in silent] == ["engine-a"]
    assert store.workers.claim(silent[0]) and not store.workers.claim(silent[0])
    assert store.workers.silent_since(now) == []
    # Coming back under the same id (SQLite's single engine) makes it live again.
    store.workers.leave("engine-b")
    store.workers.beat("engine-b", "host:3", utcnow())
    assert store.workers.silent_since(now - timedelta(seconds=60)) == []


def test_metrics_read_live_runs_durations_and_scheduling_lags(store):
    ws, sync = _sync(store)
    planned = utcnow() - timedelta(minutes=10)

    def run(status, trigger=Trigger.MANUAL, **times):
        created = store.runs.create(
            workspace_id=ws,
            sync_id=sync,
            type="t",
            trigger=trigger,
            mode=RunMode.INCREMENTAL,
            status=status,
            scheduled_for=times.pop("scheduled_for", None),
        )
        if times:
            with store.engine.begin() as conn:
                conn.execute(runs.update().where(runs.c.id == created.id).values(**times))
        return created

    run(RunStatus.QUEUED)  # waiting for capacity
    admitted = run(RunStatus.QUEUED)
    with store.engine.begin() as conn:
        store.runs.admit(conn, admitted.id, utcnow())
    run(RunStatus.IN_PROGRESS, started_at=planned)
    # Scheduled, started 3 s late, 10 s long; and a manual run 100 s long.
    run(
        RunStatus.SUCCEEDED,
        Trigger.SCHEDULE,
        scheduled_for=planned,
        started_at=planned + timedelta(seconds=3),
        ended_at=planned + timedelta(seconds=13),
        retries=2,
    )
    run(RunStatus.FAILED, started_at=planned, ended_at=planned + timedelta(seconds=100))

    metrics = store.metrics
    assert metrics.live_runs() == {"waiting": 1, "admitted": 1, "in_progress": 1}
    [durations] = metrics.durations((5.0, 15.0, 60.0, 300.0))
    assert (durations.workspace, durations.sync) == ("w", "y")
    assert durations.at_most == (0, 1, 1, 2) and durations.count == 2
    assert durations.total == pytest.approx(110, abs=0.01)
    [lags] = metrics.scheduling_lags((1.0, 5.0))
    assert lags.at_most == (0, 1) and lags.count == 1 and lags.total == pytest.approx(3, abs=0.01)
    assert sorted(metrics.runs_by_status()) == sorted(
        [
            ("w", "y", s, n)
            for s, n in [("queued", 2), ("in_progress", 1), ("succeeded", 1), ("failed", 1)]
        ]
    )
    [(_, _, items, retries)] = metrics.items()
    assert retries == 2 and items == dict.fromkeys(
        ("ok", "sent", "pending", "failed", "skipped", "not_sent"), 0
    )


def test_entries_laid_out_beforehand_are_recorded_once_even_when_some_were_recorded(store):
    """A batch's entries prepared by the delivering thread are written as they are when none
    is recorded yet; when an earlier attempt recorded some, only the others are, and each
    outcome is counted once."""
    ws, sync = _sync(store)
    run = _new_run(store, ws, sync)
    base = {"sync_id": sync, "workspace_id": ws, "system": "d"}
    rows = _added(10)
    results = [ItemResult.ok()] * 8 + [ItemResult.failed("refused"), ItemResult.ok("E9")]
    first = PendingItems.of_rows(rows[:4])
    store.entries.record(run.id, sync, first, results[:4], base=base)
    every = PendingItems.of_rows(rows)
    prepared = store.entries.prepare(run.id, every, results, base=base)
    tally = store.entries.record(run.id, sync, every, results, base=base, prepared=prepared)
    assert (tally["ok"], tally["failed"]) == (5, 1)  # the six not recorded before
    again = store.entries.record(run.id, sync, every, results, base=base, prepared=prepared)
    assert not any(again.values())
    assert store.entries.count_by_status(run.id) == {"ok": 9, "failed": 1}
    fresh = _new_run(store, ws, sync)
    prepared = store.entries.prepare(fresh.id, every, results, base=base)
    tally = store.entries.record(fresh.id, sync, every, results, base=base, prepared=prepared)
    assert (tally["ok"], tally["failed"]) == (9, 1)
    with store.engine.connect() as conn:
        found = {
            r.source_id: r
            for r in conn.execute(
                sa.select(entries.c.source_id, entries.c.error, entries.c.endpoint_id).where(
                    entries.c.run_no == number(RUN, fresh.id)
                )
            )
        }
    assert len(found) == 10
    assert found["8"].error == "refused" and found["9"].endpoint_id == "E9"
    assert store.runs.get(fresh.id).counters.ok == 9
