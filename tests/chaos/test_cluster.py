"""Chaos on PostgreSQL with three worker processes: kill -9 the worker that owns a run, kill
two at once, restart PostgreSQL itself mid-run, turn the store read-only mid-run. Each test
ends by checking the invariants (tests/support/chaos.py). The module starts its own
PostgreSQL server, since one test restarts it."""

from __future__ import annotations

import random

import psycopg
import pytest

from tests.support.catalogue import Catalogue
from tests.support.chaos import SEED, Shop, check_invariants, edit, quiet, setup
from tests.support.cli import wait_for
from tests.support.cluster import Cluster
from tests.support.postgres import PostgresServer

pytestmark = [pytest.mark.chaos, pytest.mark.postgres]


@pytest.fixture(scope="module")
def server():
    pg = PostgresServer(durable=True).start()  # restarted like a crash: commits must hold
    yield pg
    pg.stop()


@pytest.fixture
def shop():
    shop = Shop(delay=0.15)  # a first run of 400 products: 40 requests, 6 s
    yield shop
    shop.close()


@pytest.fixture
def cluster(tmp_path, server):
    cluster = Cluster(tmp_path, server)
    yield cluster
    cluster.stop()


def _in_progress(cluster: Cluster, sync: str, done: int) -> dict | None:
    runs = [r for r in cluster.runs() if r["sync_name"] == sync and r["status"] == "in_progress"]
    return runs[0] if runs and runs[0]["counters"]["ok"] >= done else None


def _begin(tmp_path, shop: Shop, cluster: Cluster, *syncs: str) -> Catalogue:
    """400 products, three workers, the configuration applied, and a first run of each sync
    (a full load: long enough to be hit mid-way)."""
    catalogue = setup(tmp_path, shop, 400)
    cluster.start("w1", "w2", "w3")
    cluster.sw("apply", "-f", "sw.yml")
    for sync in syncs:
        cluster.sw("run", sync)
    return catalogue


def _finish(cluster: Cluster, catalogue, rng: random.Random, *syncs: str) -> list[dict]:
    """Let the live runs end, edit the catalogue, then run each sync once more to its end."""
    cluster.settled()
    edit(catalogue, rng)
    for sync in syncs:
        cluster.sw("run", sync)
    return cluster.settled()


def test_kill_9_the_worker_that_owns_a_run(tmp_path, shop, cluster):
    rng = random.Random(SEED)
    shop.api.hold(after=4)  # the run is live, on its fifth request, until released
    catalogue = _begin(tmp_path, shop, cluster, "one")
    running = wait_for(lambda: shop.api.held and _in_progress(cluster, "one", 40), timeout=60)
    cluster.kill(cluster.owner(running))
    shop.api.release()
    taken = [r for r in cluster.settled() if r["id"] == running["id"]][0]
    assert taken["status"] == "succeeded"
    assert taken["infos"]["taken_over"]["from"] == running["runner"]
    _finish(cluster, catalogue, rng, "one")
    check_invariants(cluster.store_url, shop, {"/a": catalogue})


def test_kill_9_two_workers_at_once(tmp_path, shop, cluster):
    rng = random.Random(SEED)
    for path in ("/a", "/b"):  # each run is live, on its third request, until released
        shop.api.hold(after=2, path=path)
    catalogue = _begin(tmp_path, shop, cluster, "one", "two")
    wait_for(lambda: sorted(r.path for r in shop.api.held) == ["/a", "/b"], timeout=60)
    one = wait_for(lambda: _in_progress(cluster, "one", 20), timeout=60)
    two = wait_for(lambda: _in_progress(cluster, "two", 20), timeout=60)
    owners = {cluster.owner(one), cluster.owner(two)}
    victims = sorted(owners)
    if len(victims) == 1:  # both runs on one worker: that one and another
        victims.append(next(n for n in cluster.workers if n not in owners))
    cluster.kill(*victims)
    shop.api.release()
    ended = {r["id"]: r for r in cluster.settled()}
    assert ended[one["id"]]["status"] == ended[two["id"]]["status"] == "succeeded"
    [survivor] = [n for n in cluster.workers if n not in victims]
    assert {ended[one["id"]]["runner"], ended[two["id"]]["runner"]} == {
        f"{one['runner'].rsplit(':', 1)[0]}:{cluster.workers[survivor].pid}"
    }
    _finish(cluster, catalogue, rng, "one", "two")
    check_invariants(cluster.store_url, shop, {"/a": catalogue, "/b": catalogue})


def test_postgresql_restarts_mid_run(tmp_path, shop, cluster, server):
    rng = random.Random(SEED)
    shop.api.hold(after=4)  # the run is live, on its fifth request, until released
    catalogue = _begin(tmp_path, shop, cluster, "one")
    running = wait_for(lambda: shop.api.held and _in_progress(cluster, "one", 40), timeout=60)
    server.restart()
    shop.api.release()
    ended = [r for r in cluster.settled() if r["id"] == running["id"]][0]
    assert ended["status"] == "succeeded", (
        str(ended["counters"]),
        ended["infos"].get("error"),
        ended["infos"].get("taken_over"),
    )
    _finish(cluster, catalogue, rng, "one")
    check_invariants(cluster.store_url, shop, {"/a": catalogue})


def test_the_store_turns_read_only_mid_run(tmp_path, shop, server):
    """The store in its own database, the engine's tables in another: the store refuses writes
    for a while (as after a fail-over to a replica); the run fails with the store's reason,
    recorded once it takes writes again, and the next run delivers the rest."""
    rng = random.Random(SEED)
    engine_db = server.create_database(f"engine_{tmp_path.name[-12:].lower()}")
    cluster = Cluster(tmp_path, server, SYNCWRIGHT_ENGINE_DATABASE_URL=engine_db)
    try:
        shop.api.hold(after=4)  # the run is live, on its fifth request, until released
        catalogue = _begin(tmp_path, shop, cluster, "one")
        running = wait_for(lambda: shop.api.held and _in_progress(cluster, "one", 40), timeout=60)
        database = cluster.store_url.rsplit("/", 1)[1]
        _read_only(server, database, True)
        shop.api.release()  # the batch in flight ends, and cannot be recorded
        wait_for(lambda: quiet(shop), timeout=60)
        _read_only(server, database, False)
        ended = [r for r in cluster.settled() if r["id"] == running["id"]][0]
        assert ended["status"] == "failed"
        assert ended["infos"]["error"].startswith("the store failed: cannot execute"), ended
        assert "read-only transaction" in ended["infos"]["error"]
        _finish(cluster, catalogue, rng, "one")
        check_invariants(cluster.store_url, shop, {"/a": catalogue})
    finally:
        cluster.stop()


def _read_only(server: PostgresServer, database: str, on: bool) -> None:
    """Make every new session of ``database`` read-only (or not), and end the current ones."""
    with psycopg.connect(server.url(), autocommit=True) as conn:
        setting = "SET default_transaction_read_only = on" if on else "RESET ALL"
        conn.execute(f'ALTER DATABASE "{database}" {setting}')
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (database,),
        )
