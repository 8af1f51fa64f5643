"""A deploy of a new version does not strand the runs of the old one: the engine resumes a
workflow only on the version that started it, so a process of the new version adopts the runs
no live process of their version can go on with. Real processes, kill -9 and SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter

import pytest

from tests.support.catalogue import Catalogue
from tests.support.cli import read_until, release, start_engine, sw, wait_for
from tests.support.http_api import Answer, HttpApi

OLD = "syncwright-0.0.1"

CONFIG = """
sources:   {{shop: {{type: sql, url: "sqlite:///{shop}"}}}}
models:    {{products: {{source: shop, query: "SELECT * FROM products", primary_key: id, reference: sku}}}}
destinations:
  first:  {{type: http, url: "{url}/first", batch_size: 1, concurrency: 1}}
  second: {{type: http, url: "{url}/second", batch_size: 1, concurrency: 1}}
syncs:
  slow:  {{model: products, destination: first, batch_size: 5}}
  other: {{model: products, destination: second, batch_size: 5}}
"""


@pytest.fixture
def shop(tmp_path):
    """A catalogue of 60 products and an HTTP API counting what each path received."""
    api = HttpApi()
    received: Counter[tuple[str, str]] = Counter()

    def answer(request):
        received[request.path, request.body["fields"]["sku"]] += 1
        return Answer(delay=api.delay)

    api.handler = answer
    api.delay = 0.0
    Catalogue(tmp_path / "shop.db").put(*({"id": i} for i in range(1, 61)))
    (tmp_path / "sw.yml").write_text(CONFIG.format(shop=tmp_path / "shop.db", url=api.url))
    api.received = received
    yield api
    api.close()


def _stop(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def _delivered(received: Counter, path: str) -> tuple[set[str], int]:
    """The SKUs that reached ``path``, and how many arrived more than once."""
    skus = {sku for (p, sku) in received if p == path}
    again = sum(n - 1 for (p, _), n in received.items() if p == path)
    return skus, again


ALL = {f"SKU-{i}" for i in range(1, 61)}


def test_after_a_crash_the_new_version_resumes_the_old_one_s_runs(tmp_path, shop):
    """The embedded store: the old version dies mid-run (kill -9) with a second run waiting in
    its queue; the upgraded process finishes the first from its last batch and runs the
    second."""
    env: dict[str, str] = {}
    old = start_engine(
        tmp_path, command=("worker",), cli=release(OLD), SYNCWRIGHT_WORKER_CONCURRENCY="1"
    )
    try:
        sw(tmp_path, "apply", "-f", "sw.yml", env=env)
        shop.hold(after=10)  # two batches go through; "slow" is live on its third when killed
        sw(tmp_path, "run", "slow", env=env)
        wait_for(lambda: shop.held, timeout=60)
        sw(tmp_path, "run", "other", env=env)  # admitted, waiting for the old engine's slot
    finally:
        old.send_signal(signal.SIGKILL)
        old.wait(timeout=30)
        shop.release()
    before = json.loads(sw(tmp_path, "runs", "--json", env=env).stdout)
    assert {r["sync_name"]: r["status"] for r in before} == {
        "slow": "in_progress",
        "other": "queued",
    }

    new = start_engine(tmp_path, command=("worker",))
    try:
        runs = wait_for(
            lambda: (
                (r := json.loads(sw(tmp_path, "runs", "--json", env=env).stdout))
                and all(x["status"] in ("succeeded", "failed") for x in r)
                and {x["sync_name"]: x for x in r}
            ),
            timeout=120,
        )
    finally:
        _stop(new)
    slow, other = runs["slow"], runs["other"]
    assert (slow["status"], slow["counters"]["ok"]) == ("succeeded", 60)
    [was] = [r for r in before if r["sync_name"] == "slow"]
    assert slow["infos"]["taken_over"]["from"] == was["runner"] != slow["runner"]
    assert (other["status"], other["counters"]["ok"]) == ("succeeded", 60)
    skus, again = _delivered(shop.received, "/first")
    assert skus == ALL and again <= 5  # resumed after the last batch done, not from the start
    skus, again = _delivered(shop.received, "/second")
    assert skus == ALL and again == 0


@pytest.mark.postgres
def test_a_rolling_deploy_hands_the_old_version_s_run_to_the_new_one(tmp_path, shop, postgres):
    """PostgreSQL: a new-version worker starts beside the old one and leaves its run alone
    while it lives; the old one is stopped (its grace too short for the run), and the new one
    goes on from the last completed batch."""
    shared = {
        "SYNCWRIGHT_DATABASE_URL": postgres.create_database(f"upgrade_{tmp_path.name[-10:]}"),
        "SYNCWRIGHT_TAKEOVER_AFTER": "3",
    }

    def home(name: str) -> dict[str, str]:
        return {**shared, "SYNCWRIGHT_HOME": str(tmp_path / name)}

    env = home("old")  # commands hand their runs to the engines
    shop.delay = 0.25  # 5 s from the 5th request to the 25th: the new worker lives beside
    old = start_engine(
        tmp_path,
        command=("worker",),
        cli=release(OLD),
        SYNCWRIGHT_SHUTDOWN_GRACE="1",
        **home("old"),
    )
    new = None
    try:
        sw(tmp_path, "apply", "-f", "sw.yml", env=env)
        shop.hold(after=25)  # "slow" stays live on the old worker, on its sixth batch
        sw(tmp_path, "run", "slow", env=env)
        wait_for(lambda: sum(shop.received.values()) >= 5, timeout=60)
        new = start_engine(tmp_path, command=("worker",), **home("new"))
        wait_for(lambda: shop.held, timeout=60)
        [running] = json.loads(sw(tmp_path, "runs", "--json", env=env).stdout)
        assert running["status"] == "in_progress"
        assert running["runner"].endswith(f":{old.pid}")  # not adopted while its version lives
        old.send_signal(signal.SIGTERM)
        read_until(old, "stopping: no new work")
        shop.release()  # 35 items of 0.25 s left: more than its grace of 1 s
        old.wait(timeout=60)
        shop.delay = 0.0
        done = wait_for(
            lambda: (
                (r := json.loads(sw(tmp_path, "runs", "--json", env=env).stdout)[0])["status"]
                in ("succeeded", "failed")
                and r
            ),
            timeout=120,
        )
    finally:
        _stop(old, *([new] if new else []))
    assert (done["status"], done["counters"]["ok"]) == ("succeeded", 60)
    assert done["runner"].endswith(f":{new.pid}")
    assert done["infos"]["taken_over"]["from"] == running["runner"]
    skus, again = _delivered(shop.received, "/first")
    assert skus == ALL and again <= 5
