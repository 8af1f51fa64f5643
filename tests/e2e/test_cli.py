"""The command line, driven as a user would: real processes, real files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from datetime import datetime, timedelta

import pytest

from syncwright.api.schemas import RunOut
from syncwright.bootstrap.app import App
from syncwright.bootstrap.settings import Settings
from syncwright.services.alerts import ChannelDoc, RuleDoc
from tests.support.catalogue import Catalogue
from tests.support.cli import CLI, environment, sw
from tests.support.examples import SEED_RUN_FIELDS
from tests.support.http_api import HttpApi

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
    # The broken sync's table is there when the file is applied (its query is checked
    # then) and goes before it runs: see ``_break``.
    with sqlite3.connect(tmp_path / "shop.db") as db:
        db.execute("CREATE TABLE nowhere (id INTEGER PRIMARY KEY)")
    (tmp_path / "sw.yml").write_text(CONFIG)
    return tmp_path


def _break(workspace) -> None:
    """The broken sync's source fails from now on: its table is gone."""
    with sqlite3.connect(workspace / "shop.db") as db:
        db.execute("DROP TABLE nowhere")


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
    # One shape for a run, whether the CLI or the API prints it.
    assert runs[0].keys() == RunOut.model_fields.keys()
    assert RunOut.model_validate(runs[0]).model_dump(mode="json") == runs[0]

    entries = json.loads(
        sw(workspace, "report", "--run", runs[0]["id"], "--json", "--limit", "500").stdout
    )["entries"]
    assert len(entries) == 20 and {e["status"] for e in entries} == {"ok"}
    one = json.loads(sw(workspace, "report", "--reference", "SKU-7", "--json").stdout)
    assert [e["source_id"] for e in one["entries"]] == ["7"] and one["next"] is None
    assert "SKU-7" in sw(workspace, "report", "--sync", "products_to_warehouse").stdout

    # At 80 columns the runs table keeps every line within them, and its words whole.
    narrow = sw(workspace, "runs", env={"COLUMNS": "80"}).stdout
    lines = narrow.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, narrow
    [row] = [line for line in lines if runs[0]["id"][:8] in line]
    assert "succeeded" in row and "+20 ~0 -0" in row and "20/0" in row, narrow


def test_report_pages_export_history_errors_and_resync(workspace):
    sw(workspace, "apply", "-f", "sw.yml")
    sw(workspace, "run", "products_to_warehouse", "--wait")
    with sqlite3.connect(workspace / "warehouse.db") as db:  # the warehouse starts refusing
        db.execute(
            "CREATE TRIGGER picky BEFORE UPDATE ON products WHEN NEW.price > 100"
            "  BEGIN SELECT RAISE(ABORT, 'price above the limit of 100 for this shop'); END"
        )
    Catalogue(workspace / "shop.db").put(
        *({"id": i, "price": 100.0 + i} for i in range(1, 5)), {"id": 5, "price": 50.0}
    )
    ran = sw(workspace, "run", "products_to_warehouse", "--wait")
    assert "ok 1, sent 0, pending 0, failed 4" in ran.stdout

    first = sw(workspace, "report", "--limit", "15")
    cursor = first.stderr.split("--after ")[1].split()[0]
    rest = json.loads(sw(workspace, "report", "--limit", "100", "--after", cursor, "--json").stdout)
    assert len(rest["entries"]) == 25 - 15 and rest["next"] is None

    errors = json.loads(sw(workspace, "report", "--errors", "--json").stdout)
    assert [(g["group"], g["count"]) for g in errors] == [
        ("price above the limit of <n> for this shop", 4)
    ]
    csv_out = sw(workspace, "report", "--status", "failed", "--csv", "failed.csv")
    assert "4 entries written" in csv_out.stderr
    lines = (workspace / "failed.csv").read_text().splitlines()
    assert lines[0].startswith("id,created_at,updated_at,sync_id,sync,run_id,system,reference")
    assert len(lines) == 5 and all(",failed," in line for line in lines[1:])
    history = json.loads(sw(workspace, "report", "--history", "SKU-2", "--json").stdout)
    assert [e["status"] for e in history] == ["failed", "ok"]
    assert history[0]["latest_status"] == "failed"

    with sqlite3.connect(workspace / "warehouse.db") as db:
        db.execute("DROP TRIGGER picky")
    resynced = sw(
        workspace, "resync", "--error-group", "price above the limit of <n> for this shop"
    )
    assert "resyncs 4 items" in resynced.stdout and "succeeded" in resynced.stdout
    assert "ok 4" in resynced.stdout
    by_id = sw(workspace, "resync", str(history[-1]["id"]))
    assert "resyncs 1 items" in by_id.stdout and "ok 1" in by_id.stdout
    refused = sw(workspace, "resync", check=False)
    assert refused.returncode == 2 and "give entry ids or at least one filter" in refused.stderr
    wide = sw(workspace, "report", "--days", "30", check=False)
    assert wide.returncode == 2 and "days" in wide.stderr


def test_a_failed_run_exits_1_with_the_source_error(workspace):
    sw(workspace, "apply", "-f", "sw.yml")
    _break(workspace)
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
        [*CLI, "serve", "--port", "0"],
        cwd=workspace,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "engine running" in server.stdout.readline()
        busy = sw(workspace, "serve", "--port", "0", check=False)
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
    out = sw(tmp_path, "demo", "--dir", "demo", "--rows", "400", "--no-serve").stdout
    assert "built 400 products" in out
    assert "read" in out and "added 400" in out
    assert "failed 1" in out and "NOT NULL constraint failed: products.name" in out
    assert "published the catalogue as a CSV feed" in out
    feed = (tmp_path / "demo" / "feed" / "products-latest.csv").read_text().splitlines()
    assert len(feed) == 1 + 400 + 4 - 2  # header, rows after the edit (+1% added, -0.5%)


def test_schedule_enable_disable_and_cancel(workspace):
    (workspace / "sched.yml").write_text(
        CONFIG.replace(
            "mode: mirror}", "mode: mirror, schedule: {cron: '0 6 * * *', timezone: Europe/Paris}}"
        )
    )
    sw(workspace, "apply", "-f", "sched.yml")
    upcoming = sw(workspace, "schedule").stdout
    assert "products_to_warehouse" in upcoming and "cron 0 6 * * * (Europe/Paris)" in upcoming
    [planned] = [
        r for r in json.loads(sw(workspace, "runs", "--json").stdout) if r["status"] == "scheduled"
    ]
    assert planned["trigger"] == "schedule"

    assert "disabled" in sw(workspace, "disable", "products_to_warehouse").stdout
    assert "products_to_warehouse" not in sw(workspace, "schedule").stdout
    refused = sw(workspace, "run", "products_to_warehouse", check=False)
    assert refused.returncode == 2 and "syncwright enable products_to_warehouse" in refused.stderr
    enabled = sw(workspace, "enable", "products_to_warehouse").stdout
    assert "enabled (cron 0 6 * * * (Europe/Paris))" in enabled

    [again] = [
        r for r in json.loads(sw(workspace, "runs", "--json").stdout) if r["status"] == "scheduled"
    ]
    assert "aborted" in sw(workspace, "cancel", again["id"]).stdout
    [following] = [  # cancelling a planned tick skips that tick only
        r for r in json.loads(sw(workspace, "runs", "--json").stdout) if r["status"] == "scheduled"
    ]
    assert (
        following["id"] != again["id"]
        and "products_to_warehouse" in sw(workspace, "schedule").stdout
    )
    day = datetime.fromisoformat(following["scheduled_for"]) - datetime.fromisoformat(
        again["scheduled_for"]
    )
    assert day == timedelta(days=1)
    twice = sw(workspace, "cancel", again["id"], check=False)
    assert twice.returncode == 2 and "already ended (aborted)" in twice.stderr


def test_dry_run_shows_what_a_run_would_deliver_and_exits_1_when_the_guard_would_stop(
    workspace,
):
    sw(workspace, "apply", "-f", "sw.yml")
    sw(workspace, "run", "products_to_warehouse", "--wait")
    shop = Catalogue(workspace / "shop.db")
    shop.put({"id": 21}, {"id": 22})
    shown = sw(workspace, "dry-run", "products_to_warehouse")
    assert "added 2" in shown.stdout and "2 to deliver" in shown.stdout
    assert "nothing was written" in shown.stdout and "SKU-21" in shown.stdout
    found = json.loads(sw(workspace, "dry-run", "products_to_warehouse", "--json").stdout)
    assert found["counters"]["added"] == 2 and found["guard"] is None
    assert [s["key"] for s in found["samples"]] == [{"id": 21}, {"id": 22}]
    runs = json.loads(sw(workspace, "runs", "--json").stdout)
    assert len(runs) == 1  # the dry runs recorded nothing

    shop.remove(*range(1, 19))
    stopped = sw(workspace, "dry-run", "products_to_warehouse", "--sample", "0", check=False)
    assert stopped.returncode == 1
    assert "the guard would stop this run" in stopped.stderr and "would delete 18" in stopped.stderr


def test_approve_goes_on_with_a_run_the_guard_stopped(workspace):
    sw(workspace, "apply", "-f", "sw.yml")
    sw(workspace, "run", "products_to_warehouse", "--wait")
    Catalogue(workspace / "shop.db").remove(*range(1, 19))  # 18 of 20: the wipe guard stops it
    stopped = sw(workspace, "run", "products_to_warehouse", "--wait", check=False)
    assert stopped.returncode == 1 and "would delete 18 of 20" in stopped.stdout
    [run] = [
        r for r in json.loads(sw(workspace, "runs", "--json").stdout) if r["status"] == "failed"
    ]
    approved = sw(workspace, "approve", run["id"]).stdout
    assert "succeeded" in approved and "removed" in approved
    with sqlite3.connect(workspace / "warehouse.db") as db:
        assert db.execute("SELECT count(*) FROM products").fetchone()[0] == 2
    again = sw(workspace, "approve", run["id"], check=False)
    assert again.returncode == 2 and "already approved" in again.stderr


def test_a_one_off_run_alerts_and_alerts_lists_them(workspace):
    """``syncwright run`` with no engine elsewhere judges the rules before it exits, so a
    cron job alerts too; ``syncwright alerts`` lists them (exit 1 while one is open)."""
    hook = HttpApi()
    try:
        sw(workspace, "apply", "-f", "sw.yml")
        with App(Settings.from_env(environment(workspace))) as app:
            alerts = app.in_workspace(app.workspace_id).alerts
            doc = ChannelDoc(type="webhook", url=hook.url, secret="s" * 16)
            alerts.create_channel("ops", doc, user_id=None)
            rule = RuleDoc(condition="run_failed", sync="broken", channels=["ops"])
            alerts.create_rule("broken fails", rule, user_id=None)
        assert sw(workspace, "alerts").stdout.strip() == "no alert"
        _break(workspace)
        assert sw(workspace, "run", "broken", check=False).returncode == 1
        listed = sw(workspace, "alerts", "--open", "--json", check=False)
        assert listed.returncode == 1
        (alert,) = json.loads(listed.stdout)
        assert (alert["rule"], alert["sync"], alert["state"]) == ("broken fails", "broken", "open")
        assert "no such table: nowhere" in alert["summary"]
        assert [(n["channel"], n["status"]) for n in alert["notices"]] == [("ops", "delivered")]
        assert [r.body["event"] for r in hook.requests] == ["alert.firing"]
        table = sw(workspace, "alerts", "--sync", "broken", check=False).stdout
        assert "firing" in table and "1/1 delivered" in table
        unknown = sw(workspace, "alerts", "--sync", "nope", check=False)
        assert unknown.returncode != 0 and "nope" in unknown.stderr
    finally:
        hook.close()


def test_a_store_that_cannot_be_opened_is_one_line_and_exit_code_2(tmp_path, postgres):
    url = postgres.create_role("store_owner", "right-password")
    wrong_password = url.replace("right-password", "wrong-password")
    unreachable = "postgresql://someone:hidden-pw@127.0.0.1:1/nowhere"
    for store, expected in (
        (wrong_password, "password authentication failed"),
        (unreachable, "Connection refused"),
        ("nonsense://x", "SYNCWRIGHT_DATABASE_URL: not a store URL"),
    ):
        done = sw(tmp_path, "runs", check=False, env={"SYNCWRIGHT_DATABASE_URL": store})
        assert done.returncode == 2, done
        assert done.stderr.startswith("error: ") and expected in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert "wrong-password" not in done.stderr and "hidden-pw" not in done.stderr
