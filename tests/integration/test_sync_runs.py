"""Runs end to end on the durable engine, on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from syncwright.domain.statuses import EntryStatus, RunStatus
from syncwright.engine import snapshot_cache
from tests.support.catalogue import Catalogue, configure, run_sync, table_rows


@pytest.fixture
def shop(tmp_path):
    catalogue = Catalogue(tmp_path / "shop.db")
    catalogue.put(*({"id": i, "price": float(i)} for i in range(1, 51)))
    return catalogue


def refuse_null_names(dest_url, backend):
    """Make the destination table refuse rows without a name, as a NOT NULL column does."""
    engine = sa.create_engine(dest_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        if backend == "postgres":
            conn.execute(sa.text("ALTER TABLE products ALTER COLUMN name SET NOT NULL"))
        else:
            for event in ("INSERT", "UPDATE"):
                conn.execute(
                    sa.text(
                        f"CREATE TRIGGER no_null_name_{event} BEFORE {event} ON products"
                        " WHEN NEW.name IS NULL"
                        " BEGIN SELECT RAISE(ABORT, 'NOT NULL constraint failed: products.name'); END"
                    )
                )
    engine.dispose()


def entries_of(app, run):
    return app.report.entries(run_id=run.id, limit=10_000)


def assert_mirrors(shop, dest_url):
    model = shop.rows()
    dest = table_rows(dest_url)
    assert dest.keys() == model.keys()
    for key, row in model.items():
        assert {k: dest[key][k] for k in row} == row


def test_first_run_delivers_every_row_with_an_entry_each(app, shop, dest_url, name, tmp_path):
    configure(
        app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path, sync=", mode: mirror"
    )
    run = run_sync(app, name)
    assert run.status is RunStatus.SUCCEEDED, run.error
    c = run.counters
    assert (c.read, c.added, c.ok, c.failed) == (50, 50, 50, 0)
    assert c.problems() == []
    assert run.infos["snapshot"] == {"copy": False, "parts_read": 0}  # small: no copy
    entries = entries_of(app, run)
    assert len(entries) == 50 and {e.status for e in entries} == {EntryStatus.OK}
    assert {e.reference for e in entries} == {f"SKU-{i}" for i in range(1, 51)}
    assert {e.system for e in entries} == {f"{name}_dst"}
    assert all(e.attempts == 1 and e.operation.value == "add" for e in entries)
    assert_mirrors(shop, dest_url)


def test_next_run_sends_only_what_changed_deletes_included(app, shop, dest_url, name, tmp_path):
    configure(
        app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path, sync=", mode: mirror"
    )
    run_sync(app, name)
    shop.put({"id": 3, "price": 99.0}, {"id": 100})
    shop.remove(7, 8)
    run = run_sync(app, name)
    c = run.counters
    assert (c.read, c.unchanged, c.added, c.changed, c.removed, c.ok) == (49, 47, 1, 1, 2, 4)
    assert c.problems() == []
    ops = {e.source_id: e.operation.value for e in entries_of(app, run)}
    assert ops == {"100": "add", "3": "change", "7": "remove", "8": "remove"}
    removed = [e for e in entries_of(app, run) if e.operation.value == "remove"]
    assert {e.reference for e in removed} == {"SKU-7", "SKU-8"}
    assert_mirrors(shop, dest_url)

    quiet = run_sync(app, name)
    assert quiet.status is RunStatus.SUCCEEDED
    assert (quiet.counters.read, quiet.counters.unchanged, quiet.counters.ok) == (49, 49, 0)
    assert entries_of(app, quiet) == []


def test_upsert_keeps_removed_rows_and_insert_ignores_changes(app, shop, dest_url, name, tmp_path):
    configure(
        app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path, sync=", mode: upsert"
    )
    run_sync(app, name)
    shop.remove(1)
    shop.put({"id": 2, "price": 42.0})
    run = run_sync(app, name)
    c = run.counters
    assert (c.changed, c.removed, c.ok, c.skipped) == (1, 1, 1, 1)
    assert c.problems() == []
    dest = table_rows(dest_url)
    assert 1 in dest and dest[2]["price"] == 42.0

    other = f"{name}_ins"
    configure(
        app,
        other,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp_path,
        sync=", mode: insert",
        destination=", table: inserted",
    )
    assert run_sync(app, other).counters.ok == 49
    shop.put({"id": 2, "price": 7.0}, {"id": 500})
    run = run_sync(app, other)
    assert (run.counters.added, run.counters.changed, run.counters.ok, run.counters.skipped) == (
        1,
        1,
        1,
        1,
    )
    assert table_rows(dest_url, "inserted")[2]["price"] == 42.0


def test_update_mode_fails_items_the_destination_lacks(app, shop, dest_url, name, tmp_path):
    seed = f"{name}_seed"
    configure(
        app,
        seed,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp_path,
        query="SELECT * FROM products WHERE id <= 10",
    )
    run_sync(app, seed)
    configure(
        app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path, sync=", mode: update"
    )
    run = run_sync(app, name)
    assert run.status is RunStatus.SUCCEEDED
    assert (run.counters.ok, run.counters.failed) == (10, 40)
    failed = app.report.entries(run_id=run.id, status=EntryStatus.FAILED, limit=100)
    assert len(failed) == 40 and all("no row with key" in e.error for e in failed)


def test_a_rejected_row_fails_alone_and_is_sent_again_next_run(
    app, shop, dest_url, name, tmp_path, backend
):
    configure(
        app,
        name,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp_path,
        sync=", batch_size: 20",
    )
    run_sync(app, name)
    # The destination starts refusing empty names; the model now has one.
    refuse_null_names(dest_url, backend)
    shop.put({"id": 5, "name": None}, *({"id": i, "price": 500.0} for i in range(10, 30)))
    run = run_sync(app, name)
    assert run.status is RunStatus.SUCCEEDED
    assert (run.counters.changed, run.counters.ok, run.counters.failed) == (21, 20, 1)
    [failed] = app.report.entries(run_id=run.id, status=EntryStatus.FAILED)
    assert failed.reference == "SKU-5" and "name" in failed.error and "null" in failed.error.lower()
    dest = table_rows(dest_url)
    assert all(dest[i]["price"] == 500.0 for i in range(10, 30))

    # Nothing else changed: the next run retries exactly the failed item. Its only failure
    # was already failing: the run succeeds with a failure, and the sync is `warning`.
    retry = run_sync(app, name)
    assert (retry.counters.changed, retry.counters.failed) == (1, 1)
    assert retry.status is RunStatus.SUCCEEDED and retry.error is None
    shop.put({"id": 5, "name": "fixed"})
    healed = run_sync(app, name)
    assert (healed.counters.changed, healed.counters.ok, healed.counters.failed) == (1, 1, 0)
    assert table_rows(dest_url)[5]["name"] == "fixed"


def test_full_resync_resends_everything_and_rebuilds_the_snapshot(
    app, shop, dest_url, name, tmp_path
):
    configure(
        app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path, sync=", mode: mirror"
    )
    run_sync(app, name)
    run = run_sync(app, name, full=True)
    assert run.mode.value == "full"
    assert (run.counters.changed, run.counters.unchanged, run.counters.ok) == (50, 0, 50)
    assert run_sync(app, name).counters.unchanged == 50


def test_cursor_sync_reads_past_the_cursor_and_never_skips_a_failure(
    app, shop, dest_url, name, tmp_path, backend
):
    shop.put(*({"id": i, "updated_at": i} for i in range(1, 51)))
    configure(
        app,
        name,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp_path,
        model=", cursor: updated_at",
        sync=", detection: cursor",
    )
    first = run_sync(app, name)
    assert first.counters.ok == 50
    shop.put({"id": 60, "updated_at": 100}, {"id": 3, "updated_at": 101, "price": 9.5})
    second = run_sync(app, name)
    # Rows at the saved cursor (50) are read again but are unchanged, so only two travel.
    assert (second.counters.read, second.counters.added, second.counters.changed) == (3, 1, 1)
    assert table_rows(dest_url)[3]["price"] == 9.5

    refuse_null_names(dest_url, backend)
    shop.put({"id": 61, "updated_at": 102, "name": None}, {"id": 62, "updated_at": 103})
    third = run_sync(app, name)
    assert (third.counters.ok, third.counters.failed) == (1, 1)
    # Fix the row without moving its cursor: a cursor that jumped to 103 would never see it.
    shop.put({"id": 61, "updated_at": 102, "name": "fixed"})
    fourth = run_sync(app, name)
    assert (fourth.counters.added, fourth.counters.ok, fourth.counters.failed) == (1, 1, 0)
    assert table_rows(dest_url)[61]["name"] == "fixed"

    shop.remove(1)
    fifth = run_sync(app, name)
    assert fifth.counters.removed == 0 and 1 in table_rows(dest_url)


def test_cursor_mirror_sees_removed_rows_by_their_keys(app, shop, dest_url, name, tmp_path):
    shop.put(*({"id": i, "updated_at": i} for i in range(1, 51)))
    configure(
        app,
        name,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp_path,
        model=", cursor: updated_at",
        sync=", detection: cursor, mode: mirror",
    )
    assert run_sync(app, name).counters.ok == 50
    shop.remove(1, 2)
    shop.put({"id": 3, "updated_at": 100, "price": 7.5})
    second = run_sync(app, name)
    c = second.counters
    assert second.status is RunStatus.SUCCEEDED, second.error
    # Only the changed row (and the ones at the saved cursor) is read whole; the keys of all
    # rows show the two removed ones.
    assert (c.read, c.changed, c.removed, c.ok) == (2, 1, 2, 3)
    assert_mirrors(shop, dest_url)
    removals = [e for e in entries_of(app, second) if e.operation.value == "remove"]
    assert sorted(e.source_id for e in removals) == ["1", "2"]
    third = run_sync(app, name)
    assert (third.counters.removed, third.counters.ok) == (0, 0)


def test_the_snapshot_log_is_folded_when_grown_and_stays_exact(app, shop, dest_url, name, tmp_path):
    configure(
        app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path, sync=", mode: mirror"
    )
    sync = app.store.config.sync_by_name(app.workspace_id, name)
    for step in range(4):
        shop.put(*({"id": i, "price": float(i + step)} for i in range(step, 60, 7)))
        shop.remove(10 + step)
        run = run_sync(app, name)
        assert run.status is RunStatus.SUCCEEDED, run.error
        assert app.store.snapshots.count(sync.id) == len(shop.rows())
    # A delivered batch adds its part beside the base, and the next run reads them together.
    shop.put({"id": 30, "price": 99.5})
    assert run_sync(app, name).counters.changed == 1
    assert not app.store.snapshots.read(sync.id).folded
    assert run_sync(app, name).counters.ok == 0
    assert app.store.snapshots.count(sync.id) == len(shop.rows())
    # Once the parts since the base hold a fifth of its items, the next run folds them.
    shop.put(*({"id": i, "price": 1000.0 + i} for i in shop.rows()))
    assert run_sync(app, name).counters.changed == len(shop.rows())
    assert app.store.snapshots.read(sync.id).worth_folding
    assert run_sync(app, name).counters.ok == 0
    assert app.store.snapshots.read(sync.id).folded
    assert app.store.snapshots.count(sync.id) == len(shop.rows())
    assert_mirrors(shop, dest_url)


def test_a_first_load_in_batches_makes_the_snapshot_base_and_needs_no_fold(
    app, shop, dest_url, name, tmp_path
):
    configure(
        app,
        name,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp_path,
        sync=", mode: mirror, batch_size: 7",
    )
    sync = app.store.config.sync_by_name(app.workspace_id, name)
    first = run_sync(app, name)
    assert first.status is RunStatus.SUCCEEDED and first.counters.ok == len(shop.rows())
    log = app.store.snapshots.read(sync.id)
    # One part per batch, each a part of the base: read as it is, nothing to fold.
    assert len(log.parts) > 5 and log.folded and not log.worth_folding
    assert app.store.snapshots.count(sync.id) == len(shop.rows())
    shop.put({"id": 3, "price": 123.0}, {"id": 999, "price": 1.0})
    shop.remove(4, 40)
    second = run_sync(app, name)
    c = second.counters
    assert (c.added, c.changed, c.removed) == (1, 1, 2)
    assert not app.store.snapshots.read(sync.id).folded  # the second run's parts are newer
    assert run_sync(app, name).counters.ok == 0
    assert app.store.snapshots.count(sync.id) == len(shop.rows())
    assert_mirrors(shop, dest_url)


def test_a_run_compares_with_the_workers_copy_of_the_snapshot(
    app, shop, dest_url, name, tmp_path, monkeypatch
):
    """Each run brings the worker's copy of the snapshot up to what it delivered, so the
    sync's next run reads no part of the snapshot from the store; a worker without the copy
    builds it from the store's log, with the same changes found."""
    monkeypatch.setattr(snapshot_cache, "MIN_ITEMS", 0)  # a copy for this small sync too
    configure(
        app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path, sync=", mode: mirror"
    )
    sync = app.store.config.sync_by_name(app.workspace_id, name)
    first = run_sync(app, name)
    assert first.infos["snapshot"] == {"copy": True, "parts_read": 0}  # nothing delivered yet
    copy = snapshot_cache.cache_path(app.settings.work_dir, sync.id)
    assert copy.exists()
    shop.put({"id": 3, "price": 9.5}, {"id": 77, "price": 1.0})
    shop.remove(7)
    second = run_sync(app, name)
    c = second.counters
    assert (c.added, c.changed, c.removed, c.ok) == (1, 1, 1, 3)
    assert second.infos["snapshot"] == {"copy": True, "parts_read": 0}
    third = run_sync(app, name)
    assert third.counters.ok == 0 and third.infos["snapshot"]["parts_read"] == 0
    copy.unlink()
    shop.put({"id": 4, "price": 1.5})
    fourth = run_sync(app, name)
    assert fourth.counters.changed == 1 and fourth.counters.ok == 1
    parts = len(app.store.snapshots.read(sync.id).parts)
    assert fourth.infos["snapshot"] == {"copy": True, "parts_read": parts - 1}
    assert run_sync(app, name).infos["snapshot"]["parts_read"] == 0
    # The run after a large change folds the log from the copy: the copy stands for the new
    # base, and the next run reads nothing either.
    shop.put(*({"id": i, "price": 500.0 + i} for i in shop.rows()))
    assert run_sync(app, name).counters.changed == len(shop.rows())
    assert app.store.snapshots.read(sync.id).worth_folding
    folding = run_sync(app, name)
    assert folding.infos["snapshot"]["parts_read"] == 0
    assert app.store.snapshots.read(sync.id).folded
    shop.put({"id": 5, "price": 0.5})
    after = run_sync(app, name)
    assert after.counters.changed == 1 and after.infos["snapshot"]["parts_read"] == 0
    assert run_sync(app, name).infos["snapshot"]["parts_read"] == 0
    assert_mirrors(shop, dest_url)


def test_empty_model_is_refused_before_anything_is_deleted(app, shop, dest_url, name, tmp_path):
    configure(
        app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path, sync=", mode: mirror"
    )
    run_sync(app, name)
    shop.remove(*range(1, 51))
    run = run_sync(app, name)
    assert run.status is RunStatus.FAILED
    assert "no rows" in run.error
    assert len(table_rows(dest_url)) == 50
    assert entries_of(app, run) == []


def test_deleting_most_of_the_destination_needs_permission(app, shop, dest_url, name, tmp_path):
    configure(
        app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path, sync=", mode: mirror"
    )
    run_sync(app, name)
    shop.remove(*range(1, 41))
    run = run_sync(app, name)
    assert run.status is RunStatus.FAILED and "would delete 40 of 50" in run.error
    assert len(table_rows(dest_url)) == 50
    configure(
        app,
        name,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp_path,
        sync=", mode: mirror, guard: {max_delete_share: 0.9}",
    )
    allowed = run_sync(app, name)
    assert allowed.status is RunStatus.SUCCEEDED and allowed.counters.removed == 40
    assert sorted(table_rows(dest_url)) == list(range(41, 51))


def test_a_failing_source_fails_the_run_with_its_error(app, shop, dest_url, name, tmp_path):
    # A query that does not run is refused when applied; one that stops running later (its
    # table dropped) fails the run with the source's error.
    with sqlite3.connect(shop.path) as db:
        db.execute("CREATE TABLE gone AS SELECT * FROM products")
    configure(
        app,
        name,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp_path,
        query="SELECT * FROM gone",
    )
    with sqlite3.connect(shop.path) as db:
        db.execute("DROP TABLE gone")
    run = run_sync(app, name)
    assert run.status is RunStatus.FAILED
    assert f"source {name}_src" in run.error and "no such table: gone" in run.error
    assert run.ended_at is not None


def test_repeated_keys_fail_the_run_naming_them(app, shop, dest_url, name, tmp_path):
    configure(
        app,
        name,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp_path,
        query="SELECT * FROM products UNION ALL SELECT * FROM products WHERE id = 4",
    )
    run = run_sync(app, name)
    assert run.status is RunStatus.FAILED
    assert "repeated" in run.error and "4 (2 rows)" in run.error


def test_every_transition_is_recorded_with_progress(app, shop, dest_url, name, tmp_path):
    configure(
        app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path, sync=", batch_size: 7"
    )
    seen = []
    run = app.runs.wait(
        app.runs.trigger(name).id, poll=0.01, on_update=lambda r: seen.append(r.status)
    )
    assert seen[0] in (
        RunStatus.QUEUED,
        RunStatus.QUERYING,
        RunStatus.PREPARING,
        RunStatus.IN_PROGRESS,
    )
    assert seen[-1] is RunStatus.SUCCEEDED
    assert run.started_at <= run.ended_at and run.updated_at >= run.ended_at
    assert run.runner and run.type == "resources_update" and run.trigger.value == "manual"
    assert run.infos["progress"] == {"done": 50, "total": 50}
    assert run.infos["batches"] == 8
    assert set(run.infos["timings"]) == {"querying", "preparing", "delivering"}


def test_runs_of_one_sync_never_overlap(app, shop, dest_url, name, tmp_path):
    configure(
        app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path, sync=", batch_size: 5"
    )
    started = [app.runs.trigger(name) for _ in range(3)]
    finished = [app.runs.wait(r.id, timeout=120, poll=0.05) for r in started]
    assert all(r.status is RunStatus.SUCCEEDED for r in finished)
    spans = sorted((r.started_at, r.ended_at) for r in finished)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end
    assert sum(r.counters.added for r in finished) == 50


def test_disabled_sync_cannot_be_run(app, shop, dest_url, name, tmp_path):
    from syncwright.domain.errors import ConfigError

    configure(
        app,
        name,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp_path,
        sync=", enabled: false",
    )
    with pytest.raises(ConfigError, match="disabled"):
        app.runs.trigger(name)


def test_composite_keys_round_trip(app, dest_url, name, tmp_path):
    path = tmp_path / "composite.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE stock (id INTEGER, shop TEXT, qty INTEGER, PRIMARY KEY (id, shop))"
        )
        db.executemany(
            "INSERT INTO stock VALUES (?, ?, ?)", [(1, "a", 1), (1, "b", 2), (2, "a", 3)]
        )
    from syncwright.services.config_file import parse_config

    app.configs.apply(
        parse_config(f"""
sources: {{{name}_src: {{type: sql, url: "sqlite:///{path}"}}}}
models: {{{name}_m: {{source: {name}_src, query: "SELECT * FROM stock", primary_key: [id, shop]}}}}
destinations: {{{name}_d: {{type: sql, url: "{dest_url}", table: stock}}}}
syncs: {{{name}: {{model: {name}_m, destination: {name}_d, mode: mirror}}}}
"""),
        base_dir=tmp_path,
    )
    assert run_sync(app, name).counters.ok == 3
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM stock WHERE id = 1 AND shop = 'b'")
        db.execute("UPDATE stock SET qty = 9 WHERE id = 2")
    run = run_sync(app, name)
    assert (run.counters.changed, run.counters.removed, run.counters.ok) == (1, 1, 2)
    assert {e.source_id for e in entries_of(app, run)} == {"2/a", "1/b"}

    engine = sa.create_engine(dest_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        rows = sorted(tuple(r) for r in conn.execute(sa.text("SELECT id, shop, qty FROM stock")))
    engine.dispose()
    assert rows == [(1, "a", 1), (2, "a", 9)]


def test_items_already_failing_do_not_fail_quiet_runs_nor_turn_the_sync_off(
    app, shop, dest_url, name, tmp_path, backend
):
    """Three rows the destination keeps refusing out of 50: every quiet run after the one
    where they first failed succeeds with three failures; the sync is `warning`, stays on
    (it stops after two failed runs), and a new refusal alone still fails a run."""
    sync = ", batch_size: 20, disable_after_failures: 2"
    configure(app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path, sync=sync)
    run_sync(app, name)
    refuse_null_names(dest_url, backend)
    shop.put(*({"id": i, "name": None} for i in (3, 4, 5)))
    first = run_sync(app, name)
    assert (first.status, first.counters.failed, first.counters.ok) == (RunStatus.FAILED, 3, 0)
    for _ in range(3):
        quiet = run_sync(app, name)
        assert (quiet.status, quiet.counters.failed) == (RunStatus.SUCCEEDED, 3)
    spec = app.store.config.sync_by_name(app.workspace_id, name)
    [summary] = app.in_workspace(app.workspace_id).syncs.overview([spec])
    assert summary.sync.enabled and summary.health == "warning"
    # A row that was fine and is now refused is a new failure: that run fails (the second
    # failed run in a row, since the quiet ones broke the first streak, is not reached).
    shop.put({"id": 7, "name": None})
    fresh = run_sync(app, name)
    assert (fresh.status, fresh.counters.failed) == (RunStatus.FAILED, 4)
    assert app.store.config.sync_by_name(app.workspace_id, name).enabled


def test_removals_keep_their_keys_when_the_key_column_changed_type(
    app, shop, dest_url, name, tmp_path
):
    """The snapshot's keys were recorded with the earlier run's types: a removal of key 1.5
    removes 1.5, not the row of 2 that a cast to a whole number would name."""
    halves = "SELECT id + 0.5 AS id, sku, name, price FROM products WHERE id <= 3"
    configure(
        app,
        name,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp_path,
        query=halves,
        sync=", mode: mirror",
    )
    assert run_sync(app, name).status is RunStatus.SUCCEEDED
    assert set(table_rows(dest_url)) == {1.5, 2.5, 3.5}
    configure(
        app,
        name,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp_path,
        query="SELECT id, sku, name, price FROM products WHERE id <= 3",
        sync=", mode: mirror, guard: {max_delete_share: 1, max_change_share: 1}",
    )
    run = run_sync(app, name)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert (run.counters.added, run.counters.removed, run.counters.failed) == (3, 3, 0)
    assert set(table_rows(dest_url)) == {1, 2, 3}
