"""`serve` and `worker` log one JSON object per line when asked, naming the run and the sync
each line is about; a wrong log setting is refused naming the variable."""

from __future__ import annotations

import json
import signal

from tests.support.catalogue import Catalogue
from tests.support.cli import start_engine, sw, wait_for
from tests.support.http_api import HttpApi

CONFIG = """
sources:   {{shop: {{type: sql, url: "sqlite:///{shop}"}}}}
models:    {{products: {{source: shop, query: "SELECT * FROM products", primary_key: id, reference: sku}}}}
destinations: {{api: {{type: http, url: "{url}/items", batch_size: 10}}}}
syncs:
  logged: {{model: products, destination: api}}
"""


def test_json_logs_name_the_run_and_the_sync(tmp_path):
    api = HttpApi()
    try:
        Catalogue(tmp_path / "shop.db").put(*({"id": i} for i in range(1, 6)))
        (tmp_path / "sw.yml").write_text(CONFIG.format(shop=tmp_path / "shop.db", url=api.url))
        sw(tmp_path, "apply", "-f", "sw.yml")
        worker = start_engine(tmp_path, command=("worker",), SYNCWRIGHT_LOG_FORMAT="json")
        try:
            sw(tmp_path, "run", "logged")
            run = wait_for(
                lambda: (
                    (r := json.loads(sw(tmp_path, "runs", "--json").stdout)[0])["status"]
                    == "succeeded"
                    and r
                )
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0
    finally:
        api.close()
    lines = [json.loads(line) for line in (tmp_path / "engines.log").read_text().splitlines()]
    about = [line for line in lines if line.get("run_id") == run["id"]]
    assert {line["sync_id"] for line in about} == {run["sync_id"]}
    messages = [line["message"] for line in about]
    assert "run prepared: 5 changes in 1 batches" in messages
    [ended] = [line for line in about if line["message"] == "run ended: succeeded"]
    assert ended["status"] == "succeeded" and ended["level"] == "info"
    assert ended["logger"] == "syncwright.engine" and ended["time"].endswith("+00:00")


def test_a_wrong_log_format_is_refused_naming_the_variable(tmp_path):
    done = sw(tmp_path, "worker", check=False, env={"SYNCWRIGHT_LOG_FORMAT": "xml"})
    assert done.returncode != 0
    assert "SYNCWRIGHT_LOG_FORMAT" in done.stderr and "text, json" in done.stderr
