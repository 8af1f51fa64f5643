"""Chaos on the embedded default (one process, SQLite): kill -9 at random points of runs, a
destination down for longer than the retry policy, a store whose disk fills up mid-run. Each
test ends by checking the invariants (tests/support/chaos.py)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest
import sqlalchemy as sa

from syncwright.storage.database import create_store_engine
from tests.support.chaos import (
    SEED,
    Shop,
    check_invariants,
    edit,
    quiet,
    settled,
    setup,
)
from tests.support.cli import start_engine, sw, wait_for

pytestmark = pytest.mark.chaos


def _stop(engine: subprocess.Popen[str]) -> None:
    engine.send_signal(signal.SIGTERM)
    assert engine.wait(timeout=60) == 0


def test_kill_9_at_random_points_of_runs_five_times_then_restart(tmp_path):
    rng = random.Random(SEED)
    shop = Shop(delay=0.05)  # 30 requests of 10 items: about 2 s a run
    try:
        catalogue = setup(tmp_path, shop, 300)
        sw(tmp_path, "apply", "-f", "sw.yml")
        for _ in range(5):
            engine = start_engine(tmp_path, command=("worker",))
            edit(catalogue, rng)
            sw(tmp_path, "run", "one")
            time.sleep(rng.uniform(0.0, 3.0))  # queued, reading, delivering or finishing
            engine.send_signal(signal.SIGKILL)
            engine.wait(timeout=30)
        engine = start_engine(tmp_path, command=("worker",))
        try:
            settled(tmp_path)
            sw(tmp_path, "run", "one")
            runs = settled(tmp_path)
        finally:
            _stop(engine)
        assert len(runs) == 6
        check_invariants(
            f"sqlite:///{tmp_path / 'home' / 'syncwright.db'}", shop, {"/a": catalogue}
        )
    finally:
        shop.close()


def test_a_destination_down_longer_than_the_retry_policy_then_back(tmp_path):
    rng = random.Random(SEED)
    shop = Shop(delay=0.02)
    try:
        catalogue = setup(tmp_path, shop, 200)
        sw(tmp_path, "apply", "-f", "sw.yml")
        engine = start_engine(tmp_path, command=("worker",))
        try:
            sw(tmp_path, "run", "one")
            assert settled(tmp_path)[0]["status"] == "succeeded"
            edit(catalogue, rng, changes=60, removals=20, additions=40)
            shop.down = True  # and stays down through every retry (0.2 + 0.4 s)
            sw(tmp_path, "run", "one")
            down = settled(tmp_path)[0]
            shop.down = False
            sw(tmp_path, "run", "one")
            back = settled(tmp_path)[0]
        finally:
            _stop(engine)
        changes = sum(down["counters"][k] for k in ("added", "changed", "removed"))
        assert down["status"] == "failed" and down["counters"]["failed"] == changes > 0
        report = json.loads(
            sw(tmp_path, "report", "--run", down["id"], "--status", "failed", "--json").stdout
        )
        assert report["entries"] and all(
            "503" in e["error"] and e["attempts"] == 3 for e in report["entries"]
        )
        # The next run sends the failed items again (and only those: nothing else changed).
        assert back["status"] == "succeeded" and back["counters"]["ok"] == changes
        check_invariants(
            f"sqlite:///{tmp_path / 'home' / 'syncwright.db'}", shop, {"/a": catalogue}
        )
    finally:
        shop.close()


@pytest.fixture
def small_volume(tmp_path):
    """A 4 MiB tmpfs for the store: a disk that can really fill up."""
    volume = tmp_path / "volume"
    volume.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(volume)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield volume
    subprocess.run(["umount", "-l", str(volume)], check=False)


def _fill(volume: Path) -> Path:
    """Take every free byte of the volume."""
    filler = volume / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def _full(volume: Path) -> Callable[[], None]:
    return _fill(volume).unlink


def test_the_store_s_disk_fills_up_during_a_run(tmp_path, small_volume):
    """The run fails with the store's reason (recorded once the store takes writes again),
    nothing is corrupted, and the next run delivers what the failed one could not."""
    rng = random.Random(SEED)
    shop = Shop(delay=0.05)
    store_url = f"sqlite:///{small_volume / 'syncwright.db'}"
    env = {"SYNCWRIGHT_DATABASE_URL": store_url}
    try:
        catalogue = setup(tmp_path, shop, 300)
        sw(tmp_path, "apply", "-f", "sw.yml", env=env)
        engine = start_engine(tmp_path, command=("worker",), **env)
        try:
            edit(catalogue, rng)
            shop.api.hold(after=5)  # the run is live, on its sixth request, until released
            sw(tmp_path, "run", "one", env=env)
            wait_for(lambda: shop.api.held, timeout=60)
            mend = _full(small_volume)
            shop.api.release()
            # Deliveries stop: the batch in flight cannot be recorded.
            wait_for(lambda: quiet(shop), timeout=60)
            mend()
            failed = settled(tmp_path, env=env)[0]
            sw(tmp_path, "run", "one", env=env)
            runs = settled(tmp_path, env=env)
        finally:
            _stop(engine)
        assert failed["status"] == "failed"
        assert failed["infos"]["error"] == "the store failed: database or disk is full"
        assert runs[0]["status"] == "succeeded"
        engine_ = create_store_engine(store_url)
        with engine_.connect() as conn:
            assert conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
        engine_.dispose()
        check_invariants(store_url, shop, {"/a": catalogue})
    finally:
        shop.close()
