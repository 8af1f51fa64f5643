"""Retries survive a worker killed in the middle of its backoff: real processes, kill -9."""

from __future__ import annotations

import json
import signal
from collections import Counter

import pytest

from tests.support.catalogue import Catalogue
from tests.support.cli import start_engine, sw, wait_for
from tests.support.http_api import Answer, HttpApi

CONFIG = """
sources:   {{shop: {{type: sql, url: "sqlite:///shop.db"}}}}
models:    {{products: {{source: shop, query: "SELECT * FROM products", primary_key: id, reference: sku}}}}
destinations: {{api: {{type: http, url: "{url}/products", batch_size: 1}}}}
syncs:
  products_to_api:
    model: products
    destination: api
    retry: {{retries: 4, first_delay: 0.05}}
"""


@pytest.fixture
def api():
    server = HttpApi()
    yield server
    server.close()


def entry(workspace, reference):
    found = json.loads(sw(workspace, "report", "--reference", reference, "--json").stdout)
    return found["entries"][0] if found["entries"] else None


def test_a_worker_killed_during_backoff_resumes_the_retries_where_they_were(tmp_path, api):
    Catalogue(tmp_path / "shop.db").put(*({"id": i} for i in range(1, 6)))
    (tmp_path / "sw.yml").write_text(CONFIG.format(url=api.url))
    sent = Counter()

    def answer(request):
        sku = request.body["fields"]["sku"]
        sent[sku] += 1
        if sku == "SKU-2" and sent[sku] <= 3:  # busy three times
            # The first wait is long enough for the test to see it and kill the worker during
            # it, however slow the machine; the others are short.
            wait = "8" if sent[sku] == 1 else "1"
            return Answer(status=503, headers={"Retry-After": wait}, body={"message": "busy"})
        return Answer()

    api.handler = answer
    sw(tmp_path, "apply", "-f", "sw.yml")
    engine = start_engine(tmp_path)
    try:
        assert "queued" in sw(tmp_path, "run", "products_to_api").stdout
        waiting = wait_for(
            lambda: (
                (e := entry(tmp_path, "SKU-2"))
                and e["attempts"] == 1
                and e["status"] == "pending"
                and e
            )
        )
        assert "503" in waiting["error"]
    finally:
        engine.send_signal(signal.SIGKILL)
        engine.wait(timeout=30)
    assert sent["SKU-2"] == 1  # killed while waiting to try again

    engine = start_engine(tmp_path)
    try:
        run = wait_for(
            lambda: (
                (r := json.loads(sw(tmp_path, "runs", "--json").stdout)[0])["status"]
                in ("succeeded", "failed", "incomplete")
                and r
            ),
        )
    finally:
        engine.send_signal(signal.SIGTERM)
        assert engine.wait(timeout=30) == 0
    assert run["status"] == "succeeded" and run["counters"]["ok"] == 5
    done = entry(tmp_path, "SKU-2")
    # The attempts went on from where they were: 3 refusals, then accepted, 4 attempts in all.
    assert (done["status"], done["attempts"], sent["SKU-2"]) == ("ok", 4, 4)
    assert all(sent[f"SKU-{i}"] == 1 for i in (1, 3, 4, 5))  # nothing delivered twice
