"""What the chaos tests share: a shop that keeps the state its HTTP API was told, random
edits of the catalogue, and the invariants every chaos test ends by checking."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from syncwright.domain.counters import Counters
from syncwright.domain.statuses import RunStatus
from syncwright.storage.database import create_store_engine
from syncwright.storage.tables import entries, runs, scopes
from tests.support.catalogue import Catalogue
from tests.support.cli import sw, wait_for
from tests.support.http_api import Answer, HttpApi, Request

#: A seed per test session, printed on failure, so a failing sequence of kills can be replayed
#: with SYNCWRIGHT_CHAOS_SEED.
SEED = int(os.environ.get("SYNCWRIGHT_CHAOS_SEED") or random.SystemRandom().randrange(10**6))


#: Two syncs of one catalogue, each mirrored to its own path of the shop's API.
CONFIG = """
sources:   {{shop: {{type: sql, url: "sqlite:///{shop}"}}}}
models:    {{products: {{source: shop, query: "SELECT * FROM products", primary_key: id, reference: sku}}}}
destinations:
  a: {{type: http, url: "{url}/a", batch_size: 10, concurrency: 1}}
  b: {{type: http, url: "{url}/b", batch_size: 10, concurrency: 1}}
syncs:
  one: {{model: products, destination: a, mode: mirror, batch_size: 20, retry: {{retries: 2, first_delay: 0.2}}}}
  two: {{model: products, destination: b, mode: mirror, batch_size: 20, retry: {{retries: 2, first_delay: 0.2}}}}
"""


def setup(folder: Path, shop: Shop, rows: int) -> Catalogue:
    """A catalogue of ``rows`` products and the configuration file ``sw.yml``."""
    catalogue = Catalogue(folder / "shop.db")
    catalogue.put(*({"id": i} for i in range(1, rows + 1)))
    (folder / "sw.yml").write_text(CONFIG.format(shop=folder / "shop.db", url=shop.url))
    return catalogue


def list_runs(folder: Path, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return json.loads(sw(folder, "runs", "--json", env=env).stdout)


def settled(
    folder: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> list[dict[str, Any]]:
    """The runs (newest first), once none is live."""
    return wait_for(
        lambda: (
            (r := list_runs(folder, env)) and all(RunStatus(x["status"]).is_final for x in r) and r
        ),
        timeout=timeout,
    )


def quiet(shop: Shop, seconds: float = 1.0) -> bool:
    """No request reached the shop for ``seconds``."""
    before = shop.requests
    time.sleep(seconds)
    return shop.requests == before


class Shop:
    """An HTTP API on 127.0.0.1 that applies what it receives (``{"items": [...]}`` of
    add/change/remove) to its own state, one state per path. It can be slow, or down (503)."""

    def __init__(self, delay: float = 0.05) -> None:
        self.api = HttpApi()
        self.delay = delay
        self.down = False
        self.state: dict[str, dict[Any, dict[str, Any]]] = defaultdict(dict)
        self.received: Counter[tuple[str, Any]] = Counter()
        self.requests = 0
        self.lock = threading.Lock()
        self.api.handler = self._answer

    @property
    def url(self) -> str:
        return self.api.url

    def _answer(self, request: Request) -> Answer:
        with self.lock:
            self.requests += 1
            if self.down:
                return Answer(status=503, body={"message": "shop under maintenance"})
            state = self.state[request.path]
            for item in request.body["items"]:
                key = item["key"]["id"]
                self.received[request.path, key] += 1
                if item["operation"] == "remove":
                    state.pop(key, None)
                else:
                    state[key] = item["fields"]
        return Answer(delay=self.delay)

    def close(self) -> None:
        self.api.close()


def edit(
    catalogue: Catalogue,
    rng: random.Random,
    *,
    changes: int = 30,
    removals: int = 10,
    additions: int = 15,
) -> None:
    """Change, remove and add random products, so every run has a change set of each kind."""
    rows = catalogue.rows()
    ids = sorted(rows)
    for i in rng.sample(ids, min(changes, len(ids))):
        catalogue.put({"id": i, "price": round(rng.uniform(1, 100), 2)})
    catalogue.remove(*rng.sample(ids, min(removals, len(ids))))
    first = max(ids, default=0) + 1
    catalogue.put(*({"id": i} for i in range(first, first + additions)))


def check_invariants(store_url: str, shop: Shop, expected: dict[str, Catalogue]) -> None:
    """Every run ended; in each, every row read is counted once and every change has exactly
    one entry (no entry twice); its counters add up; the last run of each sync succeeded and
    left the destination (the path named by ``expected``) equal to the model."""
    engine = create_store_engine(store_url)
    try:
        with engine.connect() as conn:
            all_runs = conn.execute(sa.select(runs)).mappings().all()
            per_run = dict(
                conn.execute(
                    sa.select(scopes.c.uid, sa.func.count())
                    .select_from(entries.join(scopes, scopes.c.id == entries.c.run_no))
                    .group_by(scopes.c.uid)
                ).all()
            )
            twice = conn.execute(
                sa.select(scopes.c.uid, entries.c.item_key, sa.func.count())
                .select_from(entries.join(scopes, scopes.c.id == entries.c.run_no))
                .group_by(scopes.c.uid, entries.c.item_key)
                .having(sa.func.count() > 1)
            ).all()
    finally:
        engine.dispose()
    seed = f"(SYNCWRIGHT_CHAOS_SEED={SEED})"
    assert all_runs, f"no runs {seed}"
    assert not twice, f"entries recorded twice in a run: {twice[:5]} {seed}"
    for run in all_runs:
        where = f"run {run['id']} ({run['status']}) {seed}"
        assert RunStatus(run["status"]).is_final, f"still live: {where}"
        counters = Counters.from_row(run)
        assert counters.problems() == [], f"{counters.problems()}: {where}"
        assert per_run.get(run["id"], 0) == counters.changes, (
            f"{per_run.get(run['id'], 0)} entries for {counters.changes} changes: {where}"
        )
    for sync_id in {r["sync_id"] for r in all_runs}:
        last = max((r for r in all_runs if r["sync_id"] == sync_id), key=lambda r: r["created_at"])
        assert last["status"] == "succeeded", (
            f"the last run {last['id']} is {last['status']} {seed}"
        )
    for path, catalogue in expected.items():
        model = {i: (row["sku"], row["price"]) for i, row in catalogue.rows().items()}
        there = {k: (f["sku"], f["price"]) for k, f in shop.state[path].items()}
        missing = model.keys() - there.keys()
        extra = there.keys() - model.keys()
        stale = [k for k in model.keys() & there.keys() if model[k] != there[k]]
        assert not (missing or extra or stale), (
            f"{path}: {len(missing)} missing, {len(extra)} extra, {len(stale)} stale {seed}"
        )
