"""Runs planned by one-off commands (``syncwright run`` with no engine on the home): real
processes. A chained run is run by the command that planned it (``--wait``) or left planned
for an engine, never taken up by a later, unrelated command; a run left in flight by a
process that died is resumed by an engine, not by the next command."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess

from tests.support.catalogue import Catalogue
from tests.support.cli import CLI, environment, start_engine, sw, wait_for
from tests.support.http_api import HttpApi

CONFIG = """
sources:   {shop: {type: sql, url: "sqlite:///shop.db"}}
models:
  products: {source: shop, query: "SELECT * FROM products", primary_key: id, reference: sku}
destinations:
  first_db: {type: sql, url: "sqlite:///first.db", table: products}
  second_db: {type: sql, url: "sqlite:///second.db", table: products}
  other_db: {type: sql, url: "sqlite:///other.db", table: products}
syncs:
  first: {model: products, destination: first_db}
  second: {model: products, destination: second_db, after: [first]}
  other: {model: products, destination: other_db}
"""


def runs_of(folder, sync):
    return json.loads(sw(folder, "runs", "--sync", sync, "--json").stdout)


def test_a_chained_run_is_left_planned_or_run_with_wait_never_by_another_command(tmp_path):
    Catalogue(tmp_path / "shop.db").put(*({"id": i} for i in range(1, 21)))
    (tmp_path / "sw.yml").write_text(CONFIG)
    sw(tmp_path, "apply", "-f", "sw.yml")

    ran = sw(tmp_path, "run", "first").stdout
    [planned] = runs_of(tmp_path, "second")
    assert planned["status"] == "scheduled" and planned["trigger"] == "after"
    assert f"run {planned['id']} of second is planned after first" in ran
    assert "an engine (syncwright serve or worker) runs it" in ran

    # Later, unrelated commands (another sync's run, a resync) leave it planned.
    sw(tmp_path, "run", "other")
    sw(tmp_path, "run", "other", "--wait")
    assert [r["status"] for r in runs_of(tmp_path, "second")] == ["scheduled"]
    assert [r["status"] for r in runs_of(tmp_path, "other")] == ["succeeded", "succeeded"]

    # With --wait the command runs its chain itself: the planned run, then nothing else.
    waited = sw(tmp_path, "run", "first", "--wait").stdout
    second = runs_of(tmp_path, "second")
    assert [r["status"] for r in second] == ["succeeded"], second
    assert second[0]["id"] == planned["id"]  # the run planned before, not another one
    assert waited.count("Run ") == 2 and "of second" in waited
    first_runs = runs_of(tmp_path, "first")
    assert [r["status"] for r in first_runs] == ["succeeded", "succeeded"]
    # The second run of `first` planned a new run of `second` and that one ran too.
    assert second[0]["runner"] == first_runs[0]["runner"]

    # Commands that left nothing in flight leave no worker row behind.
    with sqlite3.connect(tmp_path / "home" / "syncwright.db") as db:
        assert db.execute("SELECT count(*) FROM workers").fetchone() == (0,)

    # An engine runs what a command without --wait left planned.
    sw(tmp_path, "run", "first")
    [left, _] = runs_of(tmp_path, "second")
    assert left["status"] == "scheduled"
    engine = start_engine(tmp_path, command=("worker",))
    try:
        done = wait_for(
            lambda: (r := runs_of(tmp_path, "second")[0])["status"] == "succeeded" and r
        )
        assert done["id"] == left["id"] and done["runner"] != first_runs[0]["runner"]
    finally:
        engine.send_signal(signal.SIGTERM)
        assert engine.wait(timeout=60) == 0


def test_a_run_left_in_flight_by_a_killed_command_is_resumed_by_an_engine(tmp_path):
    """`syncwright run` killed mid-delivery: the next command (another sync's run) does not
    touch its run; an engine takes it over and finishes it from the last completed batch,
    naming itself as the runner, with no illegal transition."""
    Catalogue(tmp_path / "shop.db").put(*({"id": i} for i in range(1, 31)))
    api = HttpApi()
    try:
        http = f'{{type: http, url: "{api.url}/items", batch_size: 10, concurrency: 1}}'
        config = CONFIG.replace(
            'first_db: {type: sql, url: "sqlite:///first.db", table: products}',
            f"first_db: {http}",
        ).replace("destination: first_db}", "destination: first_db, batch_size: 10}")
        (tmp_path / "sw.yml").write_text(config)
        sw(tmp_path, "apply", "-f", "sw.yml")
        api.hold(after=1)  # the first batch lands; the second waits until released
        command = subprocess.Popen(
            [*CLI, "run", "first"],
            cwd=tmp_path,
            env=environment(tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: api.held)
        command.send_signal(signal.SIGKILL)
        command.wait(timeout=30)
        api.release()
        [stranded] = runs_of(tmp_path, "first")
        assert stranded["status"] == "in_progress"

        sw(tmp_path, "run", "other", "--wait")  # an unrelated command leaves it alone
        assert runs_of(tmp_path, "first")[0]["status"] == "in_progress"

        engine = start_engine(tmp_path, command=("worker",), SYNCWRIGHT_TAKEOVER_AFTER="2")
        try:
            done = wait_for(
                lambda: (
                    (r := runs_of(tmp_path, "first")[0])["status"]
                    not in ("in_progress", "queued", "querying", "preparing")
                    and r
                ),
                timeout=120,
            )
        finally:
            engine.send_signal(signal.SIGTERM)
            assert engine.wait(timeout=60) == 0
        assert done["status"] == "succeeded", done
        assert done["counters"]["ok"] == 30 and done["counters"]["pending"] == 0
        assert done["runner"] != stranded["runner"]
        assert "illegal" not in (tmp_path / "engines.log").read_text().lower()
        # Each item reached the API once, but for the batch in flight when the command died
        # (at least once: it may be sent again).
        sent = {item["key"]["id"] for item in api.sent_items()}
        assert sent == set(range(1, 31))
    finally:
        api.close()
