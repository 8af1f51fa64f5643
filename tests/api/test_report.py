"""The sync report over real HTTP: entries filtered, sorted and paged; an item's history;
error groups; the CSV export streamed; resync of failed entries."""

from __future__ import annotations

import csv
import io
import sqlite3
import time

import pytest

from syncwright.domain.access import Role
from tests.support.catalogue import Catalogue, configure


@pytest.fixture(scope="module")
def reported(world):
    """A sync whose destination refuses two of its six rows (no name), run twice."""
    ws = world.alpha
    services = world.served.app.in_workspace(ws.id)
    shop = Catalogue(world.folder / "picky-shop.db")
    shop.put(*({"id": i} for i in range(1, 7)))
    with sqlite3.connect(shop.path) as db:
        db.execute("UPDATE products SET name = NULL WHERE id IN (4, 5)")
    dest = world.folder / "picky.db"
    with sqlite3.connect(dest) as db:
        db.execute(
            "CREATE TABLE products (id INTEGER PRIMARY KEY, sku TEXT, name TEXT NOT NULL,"
            " price REAL, updated_at INTEGER)"
        )
    configure(
        services,  # type: ignore[arg-type] (the same services an App has)
        "picky",
        source_url=shop.url,
        dest_url=f"sqlite:///{dest}",
        base_dir=world.folder,
    )
    for _ in range(2):
        services.runs.wait(services.runs.trigger("picky").id, timeout=60, poll=0.05)
    return world


def _base(world):
    return f"/api/v1/workspaces/{world.alpha.id}/entries"


def test_entries_filter_sort_and_page(reported):
    world = reported
    with world.as_(Role.VIEWER) as c:
        every = c.get(_base(world), params={"sync": "picky", "limit": 1000}).json()["items"]
        assert len(every) == 6 + 2  # 6 items, then the 2 failed ones sent again
        failed = c.get(_base(world), params={"sync": "picky", "status": "failed"}).json()
        assert {e["reference"] for e in failed["items"]} == {"SKU-4", "SKU-5"}
        assert all("NOT NULL" in e["error"] for e in failed["items"])
        both = c.get(
            _base(world), params=[("sync", "picky"), ("status", "failed"), ("status", "ok")]
        ).json()["items"]
        assert len(both) == 8
        walked, cursor = [], None
        while True:
            params = {"sync": "picky", "sort": "reference", "order": "asc", "limit": 3}
            page = c.get(_base(world), params={**params, **({"cursor": cursor} if cursor else {})})
            walked += [(e["reference"], e["id"]) for e in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
        assert walked == sorted((e["reference"], e["id"]) for e in every)
        bad = c.get(_base(world), params={"sort": "reference", "cursor": "nonsense"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
        bad = c.get(_base(world), params={"sort": "colour", "status": "bogus"})
        assert sorted(e["field"] for e in bad.json()["errors"]) == ["sort", "status[0]"]


def test_history_and_error_groups(reported):
    world = reported
    with world.as_(Role.VIEWER) as c:
        history = c.get(f"{_base(world)}/history", params={"reference": "SKU-4"}).json()
        assert [e["status"] for e in history] == ["failed", "failed"]
        assert history[0]["retry_of"] == history[1]["id"]
        groups = c.get(f"{_base(world)}/errors", params={"sync": "picky"}).json()
        assert len(groups) == 1 and groups[0]["count"] == 4
        assert groups[0]["sample"]["reference"] in ("SKU-4", "SKU-5")
        assert "NOT NULL" in groups[0]["group"]


def test_the_csv_export_is_exactly_the_filtered_entries(reported):
    world = reported
    with world.as_(Role.VIEWER) as c:
        answer = c.get(f"{_base(world)}/export.csv", params={"sync": "picky", "status": "failed"})
        expected = c.get(
            _base(world), params={"sync": "picky", "status": "failed", "limit": 1000}
        ).json()["items"]
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [int(r["id"]) for r in rows] == [e["id"] for e in expected]
    assert all(r["status"] == "failed" and r["sync"] == "picky" for r in rows)


def test_resync_failed_entries_starts_a_linked_run(reported):
    world = reported
    with world.as_(Role.OPERATOR) as c:
        answer = c.post(f"{_base(world)}/resync", json={"sync": "picky", "status": ["failed"]})
        assert answer.status_code == 202, answer.text
        (run,) = answer.json()
        assert (
            run["trigger"] == "resync"
            and run["created_by_user_id"] == world.alpha.users[Role.OPERATOR]
        )
        deadline = time.monotonic() + 60
        while c.get(answer.headers["location"]).json()["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        resent = c.get(_base(world), params={"run_id": run["id"]}).json()["items"]
        assert {e["reference"] for e in resent} == {"SKU-4", "SKU-5"}
        assert all(e["retry_of"] for e in resent)
        nothing = c.post(f"{_base(world)}/resync", json={"entry_ids": [987654321]})
        assert nothing.status_code == 404
    with world.as_(Role.VIEWER) as v:
        assert v.post(f"{_base(world)}/resync", json={"sync": "picky"}).status_code == 403


def test_one_entry_with_its_changes_short_run_ids_and_latest_entries(reported):
    world = reported
    with world.as_(Role.VIEWER) as c:
        failed = c.get(
            _base(world), params={"sync": "picky", "status": "failed", "reference": "SKU-4"}
        ).json()["items"]
        newest, first = failed[:2]  # newest first (a resync may have added more)
        found = c.get(f"{_base(world)}/{newest['id']}").json()
        assert found["entry"]["id"] == newest["id"] and found["entry"]["status"] == "failed"
        # An SQL destination's refusal has no HTTP exchange; the fields did not change.
        assert found["exchange"] is None
        assert found["previous_id"] == first["id"] and found["changes"] == []
        # The run's first 8 characters select its entries, as the whole id does.
        run_id = newest["run_id"]
        short = c.get(_base(world), params={"run_id": run_id[:8], "limit": 100}).json()
        whole = c.get(_base(world), params={"run_id": run_id, "limit": 100}).json()
        assert short["items"] == whole["items"] and newest in whole["items"]
        unknown = c.get(_base(world), params={"run_id": "ffffffff"})
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "run"
        # Only each item's newest entry: one per item.
        latest = c.get(
            _base(world), params={"sync": "picky", "latest_only": True, "limit": 100}
        ).json()["items"]
        assert sorted(e["reference"] for e in latest) == [f"SKU-{i}" for i in range(1, 7)]
        assert {e["id"] for e in latest} >= {newest["id"]}
    # Another workspace's entry is not found.
    with world.as_(Role.VIEWER, "beta") as c:
        assert (
            c.get(f"/api/v1/workspaces/{world.beta.id}/entries/{newest['id']}").status_code == 404
        )
