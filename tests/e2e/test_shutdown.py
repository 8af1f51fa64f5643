"""``syncwright worker`` stops gracefully: on SIGTERM it takes no new work and lets the run in
flight finish within the grace period, then exits; what it cannot finish is left to others."""

from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter

from tests.support.catalogue import Catalogue
from tests.support.cli import read_until, start_engine, sw, wait_for
from tests.support.http_api import Answer, HttpApi

CONFIG = """
sources:   {{shop: {{type: sql, url: "sqlite:///{shop}"}}}}
models:    {{products: {{source: shop, query: "SELECT * FROM products", primary_key: id, reference: sku}}}}
destinations: {{api: {{type: http, url: "{url}/items", batch_size: 1, concurrency: 1}}}}
syncs:
  slow:  {{model: products, destination: api, batch_size: 5}}
  other: {{model: products, destination: api, batch_size: 5}}
"""


def _worker(folder, **env: str) -> subprocess.Popen[str]:
    return start_engine(folder, command=("worker",), **env)


def test_sigterm_lets_the_run_in_flight_finish_and_takes_no_new_work(tmp_path):
    api = HttpApi()
    received: Counter[str] = Counter()

    def answer(request):
        received[request.body["fields"]["sku"]] += 1
        return Answer()

    api.handler = answer
    try:
        Catalogue(tmp_path / "shop.db").put(*({"id": i} for i in range(1, 41)))
        (tmp_path / "sw.yml").write_text(CONFIG.format(shop=tmp_path / "shop.db", url=api.url))
        # One run at a time: "other" waits queued behind "slow".
        one = {"SYNCWRIGHT_WORKER_CONCURRENCY": "1"}
        worker = _worker(tmp_path, SYNCWRIGHT_SHUTDOWN_GRACE="60", **one)
        sw(tmp_path, "apply", "-f", "sw.yml")
        api.hold(after=5)  # the first batch goes through; "slow" stays live on the second
        sw(tmp_path, "run", "slow")

        def run_of(name):
            return [
                r
                for r in json.loads(sw(tmp_path, "runs", "--json").stdout)
                if r["sync_name"] == name
            ][0]

        wait_for(lambda: api.held, timeout=60)
        sw(tmp_path, "run", "other")
        assert run_of("slow")["status"] == "in_progress"
        assert run_of("other")["status"] == "queued"
        worker.send_signal(signal.SIGTERM)
        # The run in flight goes on once the worker has said it takes no new work.
        read_until(worker, "stopping: no new work")
        api.release()
        assert worker.wait(timeout=90) == 0
        # The run in flight finished, each item sent once; the queued one was not started.
        slow = run_of("slow")
        assert slow["status"] == "succeeded" and slow["counters"]["ok"] == 40
        assert received == Counter({f"SKU-{i}": 1 for i in range(1, 41)})
        assert run_of("other")["status"] == "queued"

        # The next worker runs it.
        worker = _worker(tmp_path, **one)
        done = wait_for(
            lambda: (r := run_of("other"))["status"] in ("succeeded", "failed") and r, timeout=90
        )
        assert done["status"] == "succeeded"
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        api.close()
