"""A batch's outcomes are recorded while the next batch is delivered. A recording that a
process never finished (it stopped) is caught up by the next step before it goes on, and
a late one landing afterwards records and counts nothing twice."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from syncwright.bootstrap.app import App, EngineRole
from syncwright.bootstrap.settings import Settings
from syncwright.domain.statuses import RunStatus
from syncwright.engine import pipeline
from syncwright.engine.runtime import Runtime
from syncwright.storage.scopes import RUN, number
from syncwright.storage.tables import entries
from tests.support.catalogue import Catalogue, bare_run, configure
from tests.support.databases import rows_of


@pytest.fixture
def quiet(backend, request, tmp_path):
    """A store with no engine: the test drives the run's steps itself."""
    env = {"SYNCWRIGHT_HOME": str(tmp_path / "home")}
    if backend == "postgres":
        env["SYNCWRIGHT_DATABASE_URL"] = request.getfixturevalue("postgres").create_database(
            f"recording_{tmp_path.name[-12:]}"
        )
    with App(Settings.from_env(env), role=EngineRole.NONE) as app:
        yield app


def _runtime(app: App, tmp_path, recorder: ThreadPoolExecutor | None = None) -> Runtime:
    rt = Runtime(store=app.store, connectors=app.connectors, work_dir=tmp_path, runner="test")
    if recorder is not None:
        rt.recorder = recorder
    return rt


def _entries(app: App, run_id: str) -> list[int]:
    """The sequence numbers of the run's entries (one per item recorded)."""
    with app.store.engine.connect() as conn:
        query = sa.select(entries.c.seq).where(entries.c.run_no == number(RUN, run_id))
        return [seq for (seq,) in conn.execute(query)]


def test_a_recording_a_stopped_process_left_undone_is_caught_up(quiet, tmp_path, name):
    shop = Catalogue(tmp_path / "shop.db")
    shop.put(*({"id": i} for i in range(1, 31)))
    dest = f"sqlite:///{tmp_path / 'dest.db'}"
    configure(
        quiet, name, source_url=shop.url, dest_url=dest, base_dir=tmp_path, sync=", batch_size: 10"
    )
    run = bare_run(quiet, name)

    # The first process: its recorder is stuck, so the batch it delivers is never recorded
    # while it lives (as when the process stops right after the destination took the batch).
    stuck = threading.Event()
    blocked = ThreadPoolExecutor(max_workers=1)
    blocked.submit(stuck.wait)
    try:
        first = _runtime(quiet, tmp_path, blocked)
        plan = pipeline.prepare(first, run.id)
        assert plan.batches == 3
        pipeline.deliver(first, run.id, 0)
        assert run.id in first.in_doubt and _entries(quiet, run.id) == []
        first.release(run.id)

        # The next process takes the run over at its second batch: the first is delivered
        # again (its items had no entry) and recorded, then the second.
        second = _runtime(quiet, tmp_path)
        pipeline.deliver(second, run.id, 1)
        pipeline.settle(second, run.id)
        assert sorted(_entries(quiet, run.id)) == list(range(20))
        counters = quiet.store.runs.get(run.id).counters
        assert (counters.ok, counters.pending) == (20, 10)
        progress = quiet.store.runs.get(run.id).infos["progress"]
    finally:
        # The late recording of the first process lands: nothing twice, no progress undone.
        stuck.set()
        blocked.shutdown(wait=True)
    assert sorted(_entries(quiet, run.id)) == list(range(20))
    assert quiet.store.runs.get(run.id).counters.ok == 20
    assert (
        quiet.store.runs.get(run.id).infos["progress"]
        == progress
        == {
            "done": 20,
            "total": 30,
            "batches_done": 2,
        }
    )

    pipeline.deliver(second, run.id, 2)
    assert pipeline.publish(second, run.id) is None
    assert pipeline.finish(second, run.id) == RunStatus.SUCCEEDED.value
    ended = quiet.store.runs.get(run.id)
    assert (ended.counters.ok, ended.counters.pending, ended.counters.failed) == (30, 0, 0)
    assert sorted(_entries(quiet, run.id)) == list(range(30))
    assert set(rows_of(dest, "products")) == set(range(1, 31))
    assert not second.recording and not second.in_doubt


def test_a_run_failing_in_another_process_keeps_what_was_not_recorded_in_doubt(
    quiet, tmp_path, name
):
    """The destination may hold a batch whose recording a stopped process left undone: when
    the process that resumed the run fails it, those items enter the snapshot (unknown hash),
    so the next run sends them again or removes them; they are not "never sent"."""
    shop = Catalogue(tmp_path / "shop.db")
    shop.put(*({"id": i} for i in range(1, 21)))
    dest = f"sqlite:///{tmp_path / 'dest.db'}"
    configure(
        quiet, name, source_url=shop.url, dest_url=dest, base_dir=tmp_path, sync=", batch_size: 10"
    )
    run = bare_run(quiet, name)
    sync_id = run.sync_id
    stuck = threading.Event()
    blocked = ThreadPoolExecutor(max_workers=1)
    blocked.submit(stuck.wait)
    try:
        first = _runtime(quiet, tmp_path, blocked)
        pipeline.prepare(first, run.id)
        pipeline.deliver(first, run.id, 0)  # delivered, never recorded while it lives
        assert set(rows_of(dest, "products")) == set(range(1, 11))
        second = _runtime(quiet, tmp_path)
        assert pipeline.fail(second, run.id, "the destination went away", 1) == "failed"
        # Batch 0 is in doubt, and batch 1, that the failing step was at (it may have been
        # sent): both enter the snapshot, so the next run sends them again.
        assert quiet.store.snapshots.count(sync_id) == 20
        assert sorted(_entries(quiet, run.id)) == list(
            range(20)
        )  # pending: the next run sends them
    finally:
        stuck.set()
        blocked.shutdown(wait=True)


def test_the_last_batch_is_recorded_before_the_run_ends(quiet, tmp_path, name):
    shop = Catalogue(tmp_path / "shop.db")
    shop.put(*({"id": i} for i in range(1, 26)))
    dest = f"sqlite:///{tmp_path / 'dest.db'}"
    configure(
        quiet, name, source_url=shop.url, dest_url=dest, base_dir=tmp_path, sync=", batch_size: 10"
    )
    run = bare_run(quiet, name)
    release = threading.Event()
    slow = ThreadPoolExecutor(max_workers=1)
    rt = _runtime(quiet, tmp_path, slow)
    plan = pipeline.prepare(rt, run.id)
    assert plan.batches == 3
    pipeline.deliver(rt, run.id, 0)
    pipeline.deliver(rt, run.id, 1)
    # The last batch's recording waits behind this job: publishing waits for it.
    slow.submit(release.wait)
    pipeline.deliver(rt, run.id, 2)
    assert sorted(_entries(quiet, run.id)) == list(range(20))
    published: list[float | None] = []
    publishing = threading.Thread(target=lambda: published.append(pipeline.publish(rt, run.id)))
    publishing.start()
    publishing.join(timeout=0.5)
    assert publishing.is_alive()  # waiting for the last batch's recording
    release.set()
    publishing.join()
    assert published == [None]
    assert sorted(_entries(quiet, run.id)) == list(range(25))
    assert pipeline.finish(rt, run.id) == RunStatus.SUCCEEDED.value
    ended = quiet.store.runs.get(run.id)
    assert (ended.counters.ok, ended.counters.pending) == (25, 0)
    assert ended.infos["progress"]["done"] == 25
    slow.shutdown(wait=True)
