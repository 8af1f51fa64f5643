"""The engine applies the retention on its schedule, with no command run."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess

from tests.support.catalogue import Catalogue
from tests.support.cli import CLI, environment, start_engine, sw, wait_for

CONFIG = """
sources:   {shop: {type: sql, url: "sqlite:///shop.db"}}
models:    {products: {source: shop, query: "SELECT * FROM products", primary_key: id, reference: sku}}
destinations: {warehouse: {type: sql, url: "sqlite:///warehouse.db", table: products}}
syncs:     {products_to_warehouse: {model: products, destination: warehouse}}
"""


def test_the_engine_purges_old_entries_and_hides_old_runs_on_schedule(tmp_path):
    Catalogue(tmp_path / "shop.db").put(*({"id": i} for i in range(1, 11)))
    (tmp_path / "sw.yml").write_text(CONFIG)
    sw(tmp_path, "apply", "-f", "sw.yml")
    sw(tmp_path, "run", "products_to_warehouse", "--wait")
    Catalogue(tmp_path / "shop.db").put({"id": 3, "price": 9.0})
    sw(tmp_path, "run", "products_to_warehouse", "--wait")
    old, recent = reversed(json.loads(sw(tmp_path, "runs", "--json").stdout))
    with sqlite3.connect(tmp_path / "home" / "syncwright.db") as db:  # the first run ages
        for table, chosen in (
            ("entries", "run_no = (SELECT id FROM scopes WHERE kind = 'run' AND uid = ?)"),
            ("runs", "id = ?"),
        ):
            db.execute(
                f"UPDATE {table} SET created_at = datetime('now', '-16 days') WHERE {chosen}",
                (old["id"],),
            )

    engine = start_engine(tmp_path, SYNCWRIGHT_PURGE_SCHEDULE="* * * * * *")  # every second
    try:
        wait_for(
            lambda: (
                [r["id"] for r in json.loads(sw(tmp_path, "runs", "--json").stdout)]
                == [recent["id"]]
            ),
            timeout=90,
        )
    finally:
        engine.send_signal(signal.SIGTERM)
        assert engine.wait(timeout=30) == 0
    gone = json.loads(sw(tmp_path, "report", "--run", old["id"], "--json").stdout)
    kept = json.loads(sw(tmp_path, "report", "--run", recent["id"], "--json").stdout)
    assert gone["entries"] == [] and len(kept["entries"]) == 1


def test_a_bad_purge_schedule_is_refused_naming_the_setting(tmp_path):
    done = subprocess.run(
        [*CLI, "serve", "--port", "0"],
        cwd=tmp_path,
        env=environment(tmp_path, SYNCWRIGHT_PURGE_SCHEDULE="every now and then"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "SYNCWRIGHT_PURGE_SCHEDULE: not a cron schedule: 'every now and then'" in done.stderr
