"""Guardrails: a dry run finds what a run would deliver, as a run would (the guard included),
and writes nothing (no run, no entry, no snapshot, nothing at the destination, no file left);
a run that would change more than the sync allows pauses until an operator approves it."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from syncwright.domain.errors import ConfigError
from syncwright.domain.statuses import RunStatus
from syncwright.storage.tables import entries, runs, snapshot_parts
from tests.support.catalogue import Catalogue, configure, run_sync, table_rows


def _footprint(app, dest_url):
    with app.store.engine.connect() as conn:
        counts = tuple(
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (runs, entries, snapshot_parts)
        )
    return counts, table_rows(dest_url)


def test_a_dry_run_shows_the_changes_and_writes_nothing(app, dest_url, name, tmp_path):
    shop = Catalogue(tmp_path / "shop.db")
    shop.put(*({"id": i} for i in range(1, 21)))
    configure(
        app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path, sync=", mode: mirror"
    )
    run_sync(app, name)
    shop.put({"id": 2, "price": 9.5}, {"id": 3, "price": 9.5}, *({"id": i} for i in (31, 32, 33)))
    shop.remove(20)
    before = _footprint(app, dest_url)

    found = app.runs.dry_run(name, sample=2)

    assert _footprint(app, dest_url) == before
    assert not list(app.settings.work_dir.glob("dry-run-*"))
    c = found.counters
    assert (c.read, c.unchanged, c.added, c.changed, c.removed) == (22, 17, 3, 2, 1)
    assert found.deliverable == 6 and found.guard is None
    assert [(s["operation"], s["key"]) for s in found.samples] == [
        ("add", {"id": 31}),
        ("add", {"id": 32}),
        ("change", {"id": 2}),
        ("change", {"id": 3}),
        ("remove", {"id": 20}),
    ]
    changed = found.samples[2]
    assert changed["reference"] == "SKU-2" and changed["fields"]["price"] == 9.5
    assert found.samples[-1]["fields"] is None
    # The run it previewed delivers exactly that.
    after = run_sync(app, name)
    assert (after.counters.added, after.counters.changed, after.counters.removed) == (3, 2, 1)


def test_a_dry_run_says_what_the_guard_would_stop(app, dest_url, name, tmp_path):
    shop = Catalogue(tmp_path / "shop.db")
    shop.put(*({"id": i} for i in range(1, 11)))
    configure(
        app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path, sync=", mode: mirror"
    )
    run_sync(app, name)
    shop.remove(*range(1, 9))
    before = _footprint(app, dest_url)
    found = app.runs.dry_run(name, sample=0)
    assert _footprint(app, dest_url) == before
    assert found.guard and "would delete 8 of 10" in found.guard
    assert found.counters.removed == 8 and found.samples == []
    # A full dry run compares every row again.
    full = app.runs.dry_run(name, full=True, sample=1)
    assert full.counters.changed == 2 and json.dumps(full.samples)


def test_a_run_changing_too_much_pauses_until_an_operator_approves(app, dest_url, name, tmp_path):
    shop = Catalogue(tmp_path / "shop.db")
    shop.put(*({"id": i} for i in range(1, 21)))
    configure(
        app,
        name,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp_path,
        sync=", mode: mirror, guard: {max_change_share: 0.25}",
    )
    first = run_sync(app, name)
    assert first.status is RunStatus.SUCCEEDED  # nothing delivered before: nothing to compare
    shop.put(*({"id": i, "price": 7.0} for i in range(1, 9)))  # 8 of 20: 40%
    stopped = run_sync(app, name)
    assert stopped.status is RunStatus.FAILED
    assert "would change or remove 8 of 20 items (40%)" in stopped.error
    assert stopped.infos["guard"] == stopped.error
    assert {r["price"] for r in table_rows(dest_url).values()} == {1.0}  # nothing delivered
    assert app.runs.dry_run(name).guard == stopped.error
    with pytest.raises(ConfigError, match="not stopped by its sync's guard"):
        app.runs.approve(first.id)

    approving = app.runs.approve(stopped.id)
    done = app.runs.wait(approving.id, timeout=120, poll=0.05)
    assert done.status is RunStatus.SUCCEEDED and done.counters.changed == 8
    assert done.infos["approves"] == stopped.id
    assert app.runs.get(stopped.id).infos["approved"]["run_id"] == approving.id
    assert sorted(i for i, r in table_rows(dest_url).items() if r["price"] == 7.0) == list(
        range(1, 9)
    )
    with pytest.raises(ConfigError, match="already approved"):
        app.runs.approve(stopped.id)
    # The guard still watches the runs after.
    shop.put(*({"id": i, "price": 8.0} for i in range(1, 9)))
    assert run_sync(app, name).status is RunStatus.FAILED
