"""The command line, driven as a user would: real processes, real files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.catalogue import Catalogue
from tests.support.examples import SEED_RUN_FIELDS

CLI = [sys.executable, "-m", "syncwright"]

CONFIG = """
sources:   {shop: {type: sql, url: "sqlite:///shop.db"}}
models:
  products: {source: shop, query: "SELECT * FROM products", primary_key: id, reference: sku}
  broken_model: {source: shop, query: "SELECT * FROM nowhere", primary_key: id}
destinations: {warehouse: {type: sql, url: "sqlite:///warehouse.db", table: products}}
syncs:
  products_to_warehouse: {model: products, destination: warehouse, mode: mirror}
  broken: {model: broken_model, destination: warehouse}
"""


@pytest.fixture
def workspace(tmp_path):
    shop = Catalogue(tmp_path / "shop.db")
    shop.put(*({"id": i} for i in range(1, 21)))
    (tmp_path / "sw.yml").write_text(CONFIG)
    return tmp_path


def sw(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SYNCWRIGHT_HOME": str(tmp_path / "home"),
        "SYNCWRIGHT_POLL_INTERVAL": "0.05",
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [*CLI, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    if check and done.returncode != 0:
        raise AssertionError(f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def test_db_upgrade(tmp_path):
    out = sw(tmp_path, "db", "upgrade").stdout
    assert "up to date" in out
    assert (tmp_path / "home" / "syncwright.db").exists()


def test_apply_run_runs_and_report(workspace):
    applied = sw(workspace, "apply", "-f", "sw.yml").stdout
    assert "created" in applied and "sync products_to_warehouse" in applied
    assert "created" not in sw(workspace, "apply", "-f", "sw.yml").stdout

    ran = sw(workspace, "run", "products_to_warehouse", "--wait")
    assert "succeeded" in ran.stdout and "added 20" in ran.stdout

    runs = json.loads(sw(workspace, "runs", "--sync", "products_to_warehouse", "--json").stdout)
    assert len(runs) == 1 and runs[0]["status"] == "succeeded"
    assert runs[0]["counters"]["ok"] == 20 and runs[0]["trigger"] == "manual"
    assert runs[0].keys() >= SEED_RUN_FIELDS

    entries = json.loads(
        sw(workspace, "report", "--run", runs[0]["id"], "--json", "--limit", "500").stdout
    )
    assert len(entries) == 20 and {e["status"] for e in entries} == {"ok"}
    one = json.loads(sw(workspace, "report", "--reference", "SKU-7", "--json").stdout)
    assert [e["source_id"] for e in one] == ["7"]
    assert "SKU-7" in sw(workspace, "report", "--sync", "products_to_warehouse").stdout


def test_a_failed_run_exits_1_with_the_source_error(workspace):
    sw(workspace, "apply", "-f", "sw.yml")
    failed = sw(workspace, "run", "broken", "--wait", check=False)
    assert failed.returncode == 1
    assert "failed" in failed.stdout and "no such table: nowhere" in failed.stdout


def test_a_bad_file_is_refused_with_the_field_and_nothing_applied(workspace):
    (workspace / "bad.yml").write_text(CONFIG.replace("mode: mirror", "mode: sideways"))
    done = sw(workspace, "apply", "-f", "bad.yml", check=False)
    assert done.returncode == 2
    assert "syncs.products_to_warehouse.mode" in done.stderr
    assert "Traceback" not in done.stderr
    runs = sw(workspace, "run", "products_to_warehouse", check=False)
    assert runs.returncode == 2 and "no sync named 'products_to_warehouse'" in runs.stderr


def test_unknown_sync_is_a_clear_error(workspace):
    sw(workspace, "apply", "-f", "sw.yml")
    done = sw(workspace, "run", "nope", check=False)
    assert (
        done.returncode == 2
        and "no sync named 'nope' (known: broken, products_to_warehouse)" in done.stderr
    )


def test_serve_executes_runs_queued_by_other_commands(workspace):
    sw(workspace, "apply", "-f", "sw.yml")
    env = {
        **os.environ,
        "SYNCWRIGHT_HOME": str(workspace / "home"),
        "SYNCWRIGHT_POLL_INTERVAL": "0.05",
    }
    server = subprocess.Popen(
        [*CLI, "serve"],
        cwd=workspace,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "engine running" in server.stdout.readline()
        busy = sw(workspace, "serve", check=False)
        assert busy.returncode == 2 and "another syncwright engine" in busy.stderr
        queued = sw(workspace, "run", "products_to_warehouse")
        assert "queued" in queued.stdout
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = json.loads(sw(workspace, "runs", "--json").stdout)
            if runs and runs[0]["status"] == "succeeded":
                break
            time.sleep(0.3)
        assert runs[0]["status"] == "succeeded" and runs[0]["counters"]["ok"] == 20
        waited = sw(workspace, "run", "products_to_warehouse", "--wait")
        assert "succeeded" in waited.stdout and "unchanged 20" in waited.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    with sqlite3.connect(workspace / "warehouse.db") as db:
        assert db.execute("SELECT count(*) FROM products").fetchone()[0] == 20


def test_demo_runs_twice_and_shows_the_rejected_item(tmp_path):
    out = sw(tmp_path, "demo", "--dir", "demo", "--rows", "400").stdout
    assert "built 400 products" in out
    assert "read" in out and "added 400" in out
    assert "failed 1" in out and "NOT NULL constraint failed: products.name" in out
