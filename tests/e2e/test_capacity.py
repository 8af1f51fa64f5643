"""Capacity caps hold across machines: three workers on one PostgreSQL share the global cap
(SYNCWRIGHT_MAX_RUNS) and each destination's ``max_runs``, whichever worker runs what."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.catalogue import Catalogue
from tests.support.chaos import Shop
from tests.support.cluster import Cluster

pytestmark = pytest.mark.postgres

CONFIG = """
sources:   {{shop: {{type: sql, url: "sqlite:///{shop}"}}}}
models:    {{products: {{source: shop, query: "SELECT * FROM products", primary_key: id, reference: sku}}}}
destinations:
  wide:   {{type: http, url: "{url}/wide", batch_size: 10}}
  narrow: {{type: http, url: "{url}/narrow", batch_size: 10, max_runs: 1}}
syncs:
  a: {{model: products, destination: wide}}
  b: {{model: products, destination: wide}}
  c: {{model: products, destination: wide}}
  d: {{model: products, destination: narrow}}
  e: {{model: products, destination: narrow}}
"""


def _most_at_once(runs: list[dict]) -> int:
    """The most runs that were in progress at the same moment."""
    edges = sorted(
        [(datetime.fromisoformat(r["started_at"]), 1) for r in runs]
        + [(datetime.fromisoformat(r["ended_at"]), -1) for r in runs]
    )
    most = now = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        now += step
        most = max(most, now)
    return most


def test_the_global_and_destination_caps_hold_across_three_workers(tmp_path, postgres):
    shop = Shop(delay=0.1)  # 20 requests a run: 2 s
    cluster = Cluster(tmp_path, postgres, SYNCWRIGHT_MAX_RUNS="2")
    try:
        Catalogue(tmp_path / "shop.db").put(*({"id": i} for i in range(1, 201)))
        (tmp_path / "sw.yml").write_text(CONFIG.format(shop=tmp_path / "shop.db", url=shop.url))
        cluster.start("w1", "w2", "w3")
        cluster.sw("apply", "-f", "sw.yml")
        for sync in "abcde":
            cluster.sw("run", sync)
        runs = cluster.settled()
    finally:
        cluster.stop()
        shop.close()
    assert sorted(r["status"] for r in runs) == ["succeeded"] * 5
    assert _most_at_once(runs) <= 2  # the global cap, over three workers of 4 slots each
    narrow = [r for r in runs if r["sync_name"] in ("d", "e")]
    assert _most_at_once(narrow) == 1  # the narrow destination's cap
