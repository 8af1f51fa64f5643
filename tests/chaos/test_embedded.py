"""Chaos on the embedded default (one process, SQLite): kill -9 at random points of runs, a
destination down for longer than the retry policy, a store whose disk fills up mid-run. Each
test ends by checking the invariants (tests/support/chaos.py)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.catalogue import Catalogue
from tests.support.chaos import SEED, Shop, check_invariants, edit, store_engine
from tests.support.cli import start_engine, sw, wait_for

pytestmark = pytest.mark.chaos

CONFIG = """
sources:   {{shop: {{type: sql, url: "sqlite:///{shop}"}}}}
models:    {{products: {{source: shop, query: "SELECT * FROM products", primary_key: id, reference: sku}}}}
destinations: {{api: {{type: http, url: "{url}/products", batch_size: 10, concurrency: 1}}}}
syncs:
  products:
    model: products
    destination: api
    mode: mirror
    batch_size: 20
    retry: {{retries: 2, first_delay: 0.2, factor: 2}}
"""


def _setup(folder: Path, shop: Shop, rows: int, **env: str) -> Catalogue:
    catalogue = Catalogue(folder / "shop.db")
    catalogue.put(*({"id": i} for i in range(1, rows + 1)))
    (folder / "sw.yml").write_text(CONFIG.format(shop=folder / "shop.db", url=shop.url))
    return catalogue


def _runs(folder: Path) -> list[dict]:
    return json.loads(sw(folder, "runs", "--json").stdout)


def _settled(folder: Path, timeout: float = 120) -> list[dict]:
    """The runs, once none is live."""
    final = ("succeeded", "failed", "incomplete", "skipped", "cancelled", "aborted")
    return wait_for(
        lambda: (r := _runs(folder)) and all(x["status"] in final for x in r) and r,
        timeout=timeout,
    )


def _stop(engine: subprocess.Popen[str]) -> None:
    engine.send_signal(signal.SIGTERM)
    assert engine.wait(timeout=60) == 0


def test_kill_9_at_random_points_of_runs_five_times_then_restart(tmp_path):
    rng = random.Random(SEED)
    shop = Shop(delay=0.05)  # 30 requests of 10 items: about 2 s a run
    try:
        catalogue = _setup(tmp_path, shop, 300)
        sw(tmp_path, "apply", "-f", "sw.yml")
        for _ in range(5):
            engine = start_engine(tmp_path, command=("worker",))
            edit(catalogue, rng)
            sw(tmp_path, "run", "products")
            time.sleep(rng.uniform(0.0, 3.0))  # queued, reading, delivering or finishing
            engine.send_signal(signal.SIGKILL)
            engine.wait(timeout=30)
        engine = start_engine(tmp_path, command=("worker",))
        try:
            _settled(tmp_path)
            sw(tmp_path, "run", "products")
            runs = _settled(tmp_path)
        finally:
            _stop(engine)
        assert len(runs) == 6
        check_invariants(
            f"sqlite:///{tmp_path / 'home' / 'syncwright.db'}", shop, {"/products": catalogue}
        )
    finally:
        shop.close()


def test_a_destination_down_longer_than_the_retry_policy_then_back(tmp_path):
    rng = random.Random(SEED)
    shop = Shop(delay=0.02)
    try:
        catalogue = _setup(tmp_path, shop, 200)
        sw(tmp_path, "apply", "-f", "sw.yml")
        engine = start_engine(tmp_path, command=("worker",))
        try:
            sw(tmp_path, "run", "products")
            assert _settled(tmp_path)[0]["status"] == "succeeded"
            edit(catalogue, rng, changes=60, removals=20, additions=40)
            shop.down = True  # and stays down through every retry (0.2 + 0.4 s)
            sw(tmp_path, "run", "products")
            down = _settled(tmp_path)[0]
            shop.down = False
            sw(tmp_path, "run", "products")
            back = _settled(tmp_path)[0]
        finally:
            _stop(engine)
        changes = sum(down["counters"][k] for k in ("added", "changed", "removed"))
        assert down["status"] == "failed" and down["counters"]["failed"] == changes > 0
        report = json.loads(
            sw(tmp_path, "report", "--run", down["id"], "--status", "failed", "--json").stdout
        )
        assert report["entries"] and all(
            "503" in e["error"] and e["attempts"] == 3 for e in report["entries"]
        )
        # The next run sends the failed items again (and only those: nothing else changed).
        assert back["status"] == "succeeded" and back["counters"]["ok"] == changes
        check_invariants(
            f"sqlite:///{tmp_path / 'home' / 'syncwright.db'}", shop, {"/products": catalogue}
        )
    finally:
        shop.close()
