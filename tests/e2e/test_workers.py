"""Two engine processes on one PostgreSQL: runs of a sync never overlap, and a worker killed
in the middle of a run has it taken over by the other."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter

import pytest

from tests.support.catalogue import Catalogue
from tests.support.cli import CLI, environment, start_engine, wait_for
from tests.support.http_api import Answer, HttpApi

CONFIG = """
sources:   {{shop: {{type: sql, url: "sqlite:///{shop}"}}}}
models:    {{products: {{source: shop, query: "SELECT * FROM products", primary_key: id, reference: sku}}}}
destinations: {{api: {{type: http, url: "{url}/items", batch_size: 1, concurrency: 1}}}}
syncs:
  slow:   {{model: products, destination: api, batch_size: 5}}
  skippy: {{model: products, destination: api, batch_size: 5, when_busy: skip}}
"""


@pytest.fixture
def cluster(tmp_path, postgres):
    """An HTTP destination (which the tests hold to keep a run live while they act), and a
    store on PostgreSQL shared by two engines."""
    api = HttpApi()
    received = Counter()

    def answer(request):
        received[request.body["fields"]["sku"]] += 1
        return Answer()

    api.handler = answer
    Catalogue(tmp_path / "shop.db").put(*({"id": i} for i in range(1, 41)))
    (tmp_path / "sw.yml").write_text(CONFIG.format(shop=tmp_path / "shop.db", url=api.url))
    url = postgres.create_database(f"workers_{tmp_path.name[-10:]}")
    shared = {"SYNCWRIGHT_DATABASE_URL": url, "SYNCWRIGHT_TAKEOVER_AFTER": "3"}
    engines: dict[str, subprocess.Popen[str]] = {}

    def start(name: str) -> subprocess.Popen[str]:
        home = tmp_path / name
        home.mkdir(exist_ok=True)
        process = start_engine(tmp_path, **shared, SYNCWRIGHT_HOME=str(home / "home"))
        engines[name] = process
        return process

    def cli(*args: str) -> str:
        # Commands use the first engine's home, so they hand runs to the engines.
        env = {
            **environment(tmp_path, **shared),
            "SYNCWRIGHT_HOME": str(tmp_path / "one" / "home"),
        }
        done = subprocess.run(
            [*CLI, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    class Cluster:
        pass

    c = Cluster()
    c.api, c.received, c.engines, c.start, c.cli = api, received, engines, start, cli
    c.runs = lambda: json.loads(cli("runs", "--json"))
    start("one")
    start("two")
    cli("apply", "-f", "sw.yml")
    yield c
    api.release()  # a test that failed holding it: let the runs end
    for process in engines.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    api.close()


def test_runs_of_one_sync_never_overlap_across_two_workers(cluster):
    cluster.api.hold()
    cluster.cli("run", "slow")
    wait_for(lambda: cluster.api.held)  # the first run is delivering, held there
    cluster.cli("run", "slow")
    first_id = next(r["id"] for r in cluster.runs() if r["status"] == "in_progress")
    # The second waits, on whichever worker, while the first is provably live.
    assert sorted(r["status"] for r in cluster.runs()) == ["in_progress", "queued"]
    cluster.api.release()
    runs = wait_for(
        lambda: (
            (r := cluster.runs())
            and all(x["status"] == "succeeded" for x in r)
            and len(r) == 2
            and r
        ),
        timeout=90,
    )
    first, second = sorted(runs, key=lambda r: r["started_at"])
    assert first["id"] == first_id
    assert second["started_at"] >= first["ended_at"]  # queued behind, never in parallel
    assert first["counters"]["added"] == 40 and second["counters"]["unchanged"] == 40


def test_a_trigger_while_busy_is_skipped_across_two_workers(cluster):
    cluster.api.hold()
    cluster.cli("run", "skippy")
    wait_for(lambda: cluster.api.held)  # the run is delivering its first batch, held there
    assert [r["status"] for r in cluster.runs()] == ["in_progress"]
    assert "skipped: another run of the sync was live" in cluster.cli("run", "skippy")
    cluster.api.release()
    runs = wait_for(
        lambda: (
            (r := cluster.runs())
            and len(r) == 2
            and all(x["status"] in ("succeeded", "skipped") for x in r)
            and r
        ),
        timeout=90,
    )
    assert sorted(r["status"] for r in runs) == ["skipped", "succeeded"]
    [skipped] = [r for r in runs if r["status"] == "skipped"]
    assert skipped["infos"]["reason"] == "another run of the sync was live"
    [succeeded] = [r for r in runs if r["status"] == "succeeded"]
    assert succeeded["counters"]["ok"] == 40 and succeeded["created_at"] < skipped["created_at"]


def test_a_killed_worker_s_run_is_taken_over_by_the_other(cluster):
    cluster.api.hold(after=5)  # the first batch goes through, the second is held
    cluster.cli("run", "slow")
    running = wait_for(
        lambda: (
            cluster.api.held
            and (r := cluster.runs())
            and r[0]["status"] == "in_progress"
            and r[0]["counters"]["ok"] == 5
            and r[0]
        ),
        timeout=60,
    )
    pid = int(running["runner"].rsplit(":", 1)[1])
    [victim] = [name for name, p in cluster.engines.items() if p.pid == pid]
    os.kill(pid, signal.SIGKILL)
    cluster.engines[victim].wait(timeout=30)
    killed_at = time.monotonic()
    cluster.api.release()

    done = wait_for(
        lambda: (r := cluster.runs()[0])["status"] in ("succeeded", "failed") and r, timeout=90
    )
    assert done["status"] == "succeeded" and done["counters"]["ok"] == 40
    assert done["infos"]["taken_over"]["from"] == running["runner"]
    assert done["runner"] != running["runner"]
    assert time.monotonic() - killed_at < 60
    # Every item arrived; only the batch in flight when the worker died may arrive twice.
    assert set(cluster.received) == {f"SKU-{i}" for i in range(1, 41)}
    assert sum(n - 1 for n in cluster.received.values()) <= 5


PRIORITY_CONFIG = """
sources:   {{shop: {{type: sql, url: "sqlite:///{shop}"}}}}
models:    {{products: {{source: shop, query: "SELECT * FROM products", primary_key: id, reference: sku}}}}
destinations: {{api: {{type: http, url: "{url}/items", batch_size: 1, concurrency: 1}}}}
syncs:
  busy:    {{model: products, destination: api, batch_size: 5}}
  auto_a:  {{model: products, destination: api, on_change: true, debounce: 1, labels: [{label}]}}
  auto_b:  {{model: products, destination: api, on_change: true, debounce: 1, labels: [{label}]}}
  by_hand: {{model: products, destination: api}}
"""


def test_runs_people_start_go_ahead_of_automatic_ones(tmp_path):
    api = HttpApi()
    Catalogue(tmp_path / "shop.db").put(*({"id": i} for i in range(1, 61)))
    config = tmp_path / "sw.yml"
    env = environment(tmp_path, SYNCWRIGHT_MAX_RUNS="1")

    def cli(*args):
        done = subprocess.run(
            [*CLI, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def runs():
        return json.loads(cli("runs", "--json"))

    def apply(label):
        config.write_text(
            PRIORITY_CONFIG.format(shop=tmp_path / "shop.db", url=api.url, label=label)
        )
        cli("apply", "-f", str(config))

    engine = start_engine(tmp_path, SYNCWRIGHT_MAX_RUNS="1")
    try:
        apply("one")
        api.hold()  # "busy" stays live, taking the only slot, until released below
        cli("run", "busy")
        wait_for(lambda: api.held)
        apply("two")  # edits auto_a and auto_b: each plans a run, queued after its debounce
        wait_for(
            lambda: [r["status"] for r in runs() if r["trigger"] == "change"] == ["queued"] * 2
        )
        cli("run", "by_hand")  # asked by a person after the two automatic runs
        waiting = {r["sync_name"]: r["status"] for r in runs()}
        assert waiting == {
            "busy": "in_progress",
            "auto_a": "queued",
            "auto_b": "queued",
            "by_hand": "queued",
        }
        api.release()
        done = wait_for(
            lambda: (r := runs()) and len([x for x in r if x["status"] == "succeeded"]) == 4 and r,
            timeout=120,
        )
    finally:
        api.release()
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=30)
        api.close()
    order = [r["sync_name"] for r in sorted(done, key=lambda r: r["started_at"])]
    assert order[:2] == ["busy", "by_hand"] and set(order[2:]) == {"auto_a", "auto_b"}
    for earlier, later in zip(
        sorted(done, key=lambda r: r["started_at"]), sorted(done, key=lambda r: r["started_at"])[1:]
    ):
        assert later["started_at"] >= earlier["ended_at"]  # one at a time: the global cap
