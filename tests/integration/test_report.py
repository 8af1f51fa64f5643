"""The sync report on SQLite and PostgreSQL: queries and pages, resync, export, retention."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import timedelta

import pytest
import sqlalchemy as sa

from syncwright.domain.clock import as_utc, utcnow
from syncwright.domain.errors import ConfigError, NotFound
from syncwright.domain.report import SORTABLE
from syncwright.domain.statuses import EntryStatus, Operation, RunMode, RunStatus, Trigger
from syncwright.storage import scopes as scopes_
from syncwright.storage.tables import entries, runs
from tests.support.catalogue import Catalogue, bare_run, configure, run_sync, table_rows


@pytest.fixture
def shop(tmp_path):
    catalogue = Catalogue(tmp_path / "shop.db")
    catalogue.put(*({"id": i, "price": float(i)} for i in range(1, 31)))
    return catalogue


def mirror(app, name, shop, dest_url, tmp_path):
    return configure(
        app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path, sync=", mode: mirror"
    )


def three_runs(app, name, shop, dest_url, tmp_path):
    """30 adds; 10 changes; 3 removals."""
    mirror(app, name, shop, dest_url, tmp_path)
    first = run_sync(app, name)
    shop.put(*({"id": i, "price": 100.0 + i} for i in range(1, 11)))
    second = run_sync(app, name)
    shop.remove(28, 29, 30)
    third = run_sync(app, name)
    return first, second, third


def age(app, run_ids, **delta):
    """Move runs and their entries back in time, as if they had run earlier."""
    with app.store.engine.begin() as conn:
        for table in (entries, runs):
            chosen = (
                scopes_.is_one_of(scopes_.RUN, run_ids)
                if table is entries
                else table.c.id.in_(run_ids)
            )
            for row in conn.execute(sa.select(table.c.id, table.c.created_at).where(chosen)):
                conn.execute(
                    table.update()
                    .where(table.c.id == row.id)
                    .values(created_at=as_utc(row.created_at) - timedelta(**delta))
                )


def sort_key(sort, entries):
    # Runs and syncs sort in the order of their first entries (runs by when they ran).
    first: dict[str, int] = {}
    if sort in ("run_id", "sync_id"):
        for e in sorted(entries, key=lambda e: e.id):
            first.setdefault(getattr(e, sort), e.id)

    def key(entry):
        value = getattr(entry, sort)
        if first:
            return (first[value], entry.id)
        value = "" if value is None else getattr(value, "value", value)
        return (value, entry.id)

    return key


def test_pages_in_any_order_visit_every_entry_exactly_once(app, shop, dest_url, name, tmp_path):
    three_runs(app, name, shop, dest_url, tmp_path)
    everything = app.report.entries(sync_name=name, limit=1000)
    assert len(everything) == 43
    for sort in SORTABLE:
        for descending in (True, False):
            walked, after = [], None
            while True:
                page = app.report.page(
                    sync=name, sort=sort, descending=descending, after=after, limit=7
                )
                walked += [e.id for e in page.entries]
                after = page.next
                if after is None:
                    break
            expected = sorted(everything, key=sort_key(sort, everything), reverse=descending)
            assert walked == [e.id for e in expected], (sort, descending)
    with pytest.raises(ConfigError, match="after"):
        app.report.page(sync=name, sort="reference", after=page_cursor(app, name, "status"))
    with pytest.raises(ConfigError, match="sort"):
        app.report.page(sync=name, sort="payload")


def page_cursor(app, name, sort):
    return app.report.page(sync=name, sort=sort, limit=1).next


def test_filters_search_and_extra_fields(app, shop, dest_url, name, tmp_path):
    first, second, third = three_runs(app, name, shop, dest_url, tmp_path)
    page = app.report.page
    assert len(page(sync=name, operations=(Operation.REMOVE,)).entries) == 3
    assert len(page(sync=name, operations=(Operation.ADD, Operation.CHANGE)).entries) == 40
    assert len(page(run_id=second.id).entries) == 10
    assert {e.reference for e in page(sync=name, reference="SKU-1").entries} == {"SKU-1"}
    prefixed = page(sync=name, reference="SKU-1", prefix=True, run_id=first.id).entries
    assert sorted(e.reference for e in prefixed) == sorted(
        ["SKU-1", *(f"SKU-{i}" for i in range(10, 20))]
    )
    sync_id = app.store.config.sync_by_name(app.workspace_id, name).id
    assert len(page(sync=sync_id, limit=1000).entries) == 43  # a sync by id as well as by name
    assert len(page(system=f"{name}_dst", limit=1000).entries) == 43
    assert len(page(destination=f"{name}_dst", limit=1000).entries) == 43
    assert page(sync=name, statuses=(EntryStatus.FAILED,)).entries == []
    # An error group is a group of failed entries (a pending retry's error is not in it).
    assert app.report.filter(error_group="x").statuses == (EntryStatus.FAILED,)
    with pytest.raises(NotFound, match="no destination named"):
        page(destination="nowhere")

    latest = {e.reference: e for e in page(run_id=first.id, latest=True, limit=100).entries}
    assert latest["SKU-30"].latest_status is EntryStatus.OK
    assert latest["SKU-30"].latest_at >= third.started_at  # its newest entry is the removal
    extra = latest["SKU-2"]
    assert extra.source_id == "2" and extra.sync_name == name and extra.system == f"{name}_dst"

    # The window: 5 days by default, up to the retention (15 days).
    age(app, [first.id], days=6)
    assert len(page(sync=name, limit=1000).entries) == 13
    assert len(page(sync=name, days=7, limit=1000).entries) == 43
    assert len(page(run_id=first.id, limit=1000).entries) == 30  # a named run: whole retention
    assert len(page(sync=name, days=1, limit=1000).entries) == 13
    with pytest.raises(ConfigError, match="days"):
        page(sync=name, days=16)
    with pytest.raises(ConfigError, match="since"):
        page(sync=name, since=utcnow() - timedelta(days=20))
    since = page(
        sync=name, since=utcnow() - timedelta(days=6, hours=1), until=utcnow() - timedelta(days=5)
    )
    assert len(since.entries) == 30


def test_resync_of_a_filter_sends_exactly_the_filtered_items(
    app, shop, dest_url, name, tmp_path, backend
):
    mirror(app, name, shop, dest_url, tmp_path)
    first = run_sync(app, name)
    engine = sa.create_engine(dest_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:  # someone edits the destination by hand
        conn.execute(sa.text("UPDATE products SET price = -1"))
    engine.dispose()

    selection = app.report.filter(sync=name, reference="SKU-1", prefix=True)
    [run] = app.runs.resync(selection)
    assert (run.type, run.trigger, run.mode) == ("resync", Trigger.RESYNC, RunMode.RESYNC)
    assert run.infos["resync_items"] == 11
    done = app.runs.wait(run.id, timeout=60, poll=0.05)
    assert done.status is RunStatus.SUCCEEDED and not done.counters.problems()
    resynced = {e.reference: e for e in app.report.entries(run_id=done.id, limit=100)}
    expected = {"SKU-1", *(f"SKU-{i}" for i in range(10, 20))}
    assert set(resynced) == expected
    before = {e.reference: e.id for e in app.report.entries(run_id=first.id, limit=100)}
    assert all(e.retry_of == before[ref] for ref, e in resynced.items())
    dest = table_rows(dest_url)
    assert {f"SKU-{i}" for i, row in dest.items() if row["price"] != -1} == expected

    by_ids = app.report.filter(entry_ids=(before["SKU-2"], before["SKU-3"]))
    [again] = app.runs.resync(by_ids)
    app.runs.wait(again.id, timeout=60, poll=0.05)
    assert {e.reference for e in app.report.entries(run_id=again.id)} == {"SKU-2", "SKU-3"}
    with pytest.raises(NotFound, match="no entries match"):
        app.runs.resync(app.report.filter(sync=name, reference="SKU-999"))


def test_resyncing_a_removed_item_removes_it_again(app, shop, dest_url, name, tmp_path):
    mirror(app, name, shop, dest_url, tmp_path)
    run_sync(app, name)
    shop.remove(5)
    removal = run_sync(app, name)
    [removed] = app.report.entries(run_id=removal.id)
    assert (removed.operation, removed.status) == (Operation.REMOVE, EntryStatus.OK)
    engine = sa.create_engine(dest_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:  # the row comes back in the destination
        conn.execute(
            sa.text(
                "INSERT INTO products (id, sku, name, price, updated_at) VALUES (5, 'SKU-5', 'x', 1, 1)"
            )
        )
    engine.dispose()
    [run] = app.runs.resync(app.report.filter(entry_ids=(removed.id,)))
    done = app.runs.wait(run.id, timeout=60, poll=0.05)
    [again] = app.report.entries(run_id=done.id)
    assert (again.operation, again.status, again.retry_of) == (
        Operation.REMOVE,
        EntryStatus.OK,
        removed.id,
    )
    assert 5 not in table_rows(dest_url)
    assert done.counters.removed == 1 and not done.counters.problems()


def test_csv_export_streams_200k_entries_in_bounded_memory(app, shop, dest_url, name, tmp_path):
    mirror(app, name, shop, dest_url, tmp_path)
    # a run of the past: nothing for the engine to do
    run = bare_run(app, name, status=RunStatus.SUCCEEDED)
    total = 200_000
    chunks = (
        [
            {
                "seq": i,
                "item_key": f'{{"id":{i}}}',
                "source_id": str(i),
                "reference": f"SKU-{i:06d}",
                "operation": "add",
                "row_hash": "0" * 32,
                "payload": f'{{"id":{i},"name":"a product with a fairly long name {i}"}}',
            }
            for i in range(start, start + 10_000)
        ]
        for start in range(0, total, 10_000)
    )
    with app.store.engine.begin() as conn:
        app.store.entries.add_pending(
            conn,
            run.id,
            chunks,
            base={"sync_id": run.sync_id, "workspace_id": app.workspace_id, "system": "x"},
        )
    target = tmp_path / "report.csv"
    tracemalloc.start()
    try:
        with open(target, "w", newline="") as out:
            written = app.report.export_csv(out, run_id=run.id, sort="reference", descending=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == total
    # 200k rows held at once would take well over 100 MB of Python objects.
    assert peak < 12 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    with open(target, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        assert header[:5] == ["id", "created_at", "updated_at", "sync_id", "sync"]
        refs = [row[header.index("reference")] for row in reader]
    assert len(refs) == total and refs == sorted(refs) and refs[0] == "SKU-000000"


def test_csv_export_has_exactly_the_filtered_entries(app, shop, dest_url, name, tmp_path):
    first, second, third = three_runs(app, name, shop, dest_url, tmp_path)
    out = io.StringIO()
    written = app.report.export_csv(out, sync=name, operations=(Operation.CHANGE,), latest=True)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert written == len(rows) == 10
    assert {r["reference"] for r in rows} == {f"SKU-{i}" for i in range(1, 11)}
    assert {r["latest_status"] for r in rows} == {"ok"} and {r["sync"] for r in rows} == {name}
    assert [int(r["id"]) for r in rows] == sorted((int(r["id"]) for r in rows), reverse=True)
