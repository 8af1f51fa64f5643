"""The store stays whole while a server syncs a SQLite source lying beside it and the command
line works on the same store. Once, a source could open the store's own file through the
ADBC driver's SQLite library beside Python's in one process; a later CLI command then deleted
the live server's WAL and SHM files and the store ended "database disk image is malformed".
Now no connector can open the store, and each file has one SQLite library per process."""

from __future__ import annotations

import json
import signal
import sqlite3

from tests.support.catalogue import Catalogue
from tests.support.cli import start_engine, sw, wait_for

CONFIG = """
sources:   {{shop: {{type: sql, url: "sqlite:///data/shop.db"}}}}
models:    {{products: {{source: shop, query: "SELECT * FROM products", primary_key: id, reference: sku}}}}
destinations: {{warehouse: {{type: sql, url: "sqlite:///data/warehouse.db", table: products}}}}
syncs:     {{products: {{model: products, destination: warehouse, mode: mirror}}}}
"""

ATTACK = """
sources:   {{store: {{type: sql, url: "sqlite:///{store}"}}}}
models:    {{users: {{source: store, query: "SELECT * FROM users", primary_key: id}}}}
destinations: {{copy: {{type: sql, url: "sqlite:///data/copy.db", table: users}}}}
syncs:     {{steal: {{model: users, destination: copy}}}}
"""


ENV: dict = {}


def settled(folder, count):
    def check():
        runs = json.loads(sw(folder, "runs", "--json", env=ENV[folder]).stdout)
        done = [r for r in runs if r["status"] in ("succeeded", "failed", "incomplete")]
        return len(done) >= count and runs

    return wait_for(check, timeout=120)


def test_a_sqlite_source_beside_the_store_leaves_the_store_whole(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    store = data / "store.db"
    ENV[tmp_path] = {"SYNCWRIGHT_DATABASE_URL": f"sqlite:///{store}"}
    shop = Catalogue(data / "shop.db")
    shop.put(*({"id": i, "price": float(i)} for i in range(1, 2001)))
    (tmp_path / "sw.yml").write_text(CONFIG.format())
    sw(tmp_path, "apply", "-f", "sw.yml", env=ENV[tmp_path])
    (tmp_path / "attack.yml").write_text(ATTACK.format(store=store))
    refused = sw(tmp_path, "apply", "-f", "attack.yml", check=False, env=ENV[tmp_path])
    assert refused.returncode != 0 and "sources.store.url" in refused.stdout + refused.stderr

    engine = start_engine(tmp_path, **ENV[tmp_path])
    try:
        for round_ in range(1, 3):
            shop.put(*({"id": i, "price": float(i + round_)} for i in range(1, 200)))
            sw(tmp_path, "run", "products", env=ENV[tmp_path])
            # The command line works on the store while the server's run reads the source.
            for command in (
                ("runs",),
                ("report", "--limit", "5"),
                ("apply", "-f", "sw.yml"),
                ("schedule",),
                ("report", "--errors"),
            ):
                sw(tmp_path, *command, env=ENV[tmp_path])
            runs = settled(tmp_path, round_)
            assert runs[0]["status"] == "succeeded", runs[0]
    finally:
        engine.send_signal(signal.SIGTERM)
        assert engine.wait(timeout=60) == 0
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with sqlite3.connect(data / "warehouse.db") as db:
        assert db.execute("SELECT count(*) FROM products").fetchone() == (2000,)
