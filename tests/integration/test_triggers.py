"""Triggers and run control on SQLite and PostgreSQL: planned runs ticked with a controlled
clock, then the engine doing it by itself in real time."""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta

import pytest
import yaml

from syncwright.bootstrap.app import App, EngineRole
from syncwright.bootstrap.settings import Settings
from syncwright.domain.clock import utcnow
from syncwright.domain.errors import ConfigError, NotFound
from syncwright.domain.statuses import EntryStatus, RunStatus, Trigger
from syncwright.engine.admission import Admission
from syncwright.engine.scheduler import Scheduler
from syncwright.services.config_file import parse_config
from tests.support.catalogue import Catalogue, bare_run, run_sync
from tests.support.http_api import HttpApi


@pytest.fixture
def shop(tmp_path):
    catalogue = Catalogue(tmp_path / "shop.db")
    catalogue.put(*({"id": i} for i in range(1, 11)))
    return catalogue


@pytest.fixture(scope="module")
def quiet(backend, request, tmp_path_factory):
    """A store with no engine: nothing ticks unless the test does, with the time it chooses."""
    home = tmp_path_factory.mktemp(f"quiet-{backend}")
    env = {"SYNCWRIGHT_HOME": str(home)}
    if backend == "postgres":
        env["SYNCWRIGHT_DATABASE_URL"] = request.getfixturevalue("postgres").create_database(
            f"quiet_{home.name[-8:]}"
        )
    with App(Settings.from_env(env), role=EngineRole.NONE) as app:
        yield app


def apply(app, shop, tmp_path, syncs, *, model_query="SELECT * FROM products", destination=None):
    doc = {
        "sources": {"shop": {"type": "sql", "url": shop.url}},
        "models": {"products": {"source": "shop", "query": model_query, "primary_key": "id"}},
        "destinations": {
            "dst": destination
            or {"type": "sql", "url": f"sqlite:///{tmp_path / 'dest.db'}", "table": "products"}
        },
        "syncs": {
            name: {"model": "products", "destination": "dst", **values}
            for name, values in syncs.items()
        },
    }
    return app.configs.apply(parse_config(yaml.safe_dump(doc)), base_dir=tmp_path)


def planned(app, name, trigger=None):
    return [
        r
        for r in app.runs.upcoming()
        if r.sync_name == name and (trigger is None or r.trigger is trigger)
    ]


# -- with a controlled clock ------------------------------------------------------------------
def test_an_interval_sync_is_queued_once_per_tick(quiet, shop, tmp_path, name):
    apply(quiet, shop, tmp_path, {name: {"schedule": {"every": "10m"}}})
    [first] = planned(quiet, name)
    due = first.scheduled_for
    assert first.status is RunStatus.SCHEDULED and first.trigger is Trigger.SCHEDULE
    sync = quiet.store.config.sync_by_name(quiet.workspace_id, name)
    phase = sync.triggers.schedule.phase(sync.id)
    assert due > utcnow() and due.timestamp() % 600 == phase  # on the clock, at its phase
    scheduler = Scheduler(quiet.store)
    assert scheduler.tick(due - timedelta(seconds=1)) == []
    [queued] = [r for r in scheduler.tick(due) if r.sync_name == name]
    assert (queued.id, queued.status) == (first.id, RunStatus.QUEUED)
    assert queued.infos["planned_for"] == due.isoformat()
    assert [r for r in scheduler.tick(due) if r.sync_name == name] == []  # once per tick
    [following] = planned(quiet, name)
    assert following.scheduled_for == due + timedelta(minutes=10)


@pytest.mark.parametrize("missed", ["once", "skip"])
def test_ticks_missed_while_down_run_once_or_are_skipped(quiet, shop, tmp_path, name, missed):
    apply(quiet, shop, tmp_path, {name: {"schedule": {"every": "10m"}, "missed": missed}})
    [first] = planned(quiet, name)
    back = first.scheduled_for + timedelta(hours=3, minutes=4)  # 18 ticks later
    moved = [r for r in Scheduler(quiet.store).tick(back) if r.sync_name == name]
    assert len(moved) == 1
    if missed == "once":
        assert moved[0].status is RunStatus.QUEUED
    else:
        assert moved[0].status is RunStatus.SKIPPED and "missed" in moved[0].infos["reason"]
    [following] = planned(quiet, name)
    assert following.scheduled_for == first.scheduled_for + timedelta(hours=3, minutes=10)


def test_a_burst_of_edits_makes_one_run_after_the_last(quiet, shop, tmp_path, name):
    values = {"on_change": True, "debounce": "30s"}
    apply(quiet, shop, tmp_path, {name: values})
    assert planned(quiet, name) == []  # creating a sync is not editing it
    for n in range(3):
        before = utcnow()
        apply(
            quiet, shop, tmp_path, {name: values}, model_query=f"SELECT *, {n} AS v FROM products"
        )
    [change] = planned(quiet, name)
    assert change.trigger is Trigger.CHANGE
    assert change.scheduled_for >= before + timedelta(seconds=30)
    apply(quiet, shop, tmp_path, {name: {**values, "batch_size": 7}})  # editing the sync too
    assert [r.id for r in planned(quiet, name)] == [change.id]
    moved = Scheduler(quiet.store).tick(utcnow() + timedelta(seconds=31))
    assert [r.id for r in moved if r.sync_name == name] == [change.id]


def _ended(app, name, status):
    run = bare_run(app, name)
    for step in (RunStatus.QUERYING, RunStatus.PREPARING):
        app.store.runs.transition(run.id, step)
    return app.store.runs.transition(run.id, status, ended=True)


def test_after_chains_fan_out_and_cycles_are_refused(quiet, shop, tmp_path, name):
    a, b, c, d = (f"{name}_{x}" for x in "abcd")
    syncs = {
        a: {},
        b: {"after": [a]},
        c: {"after": [b]},
        d: {"after": [a], "after_statuses": ["succeeded", "failed"]},
    }
    apply(quiet, shop, tmp_path, syncs)
    scheduler = Scheduler(quiet.store)
    started = scheduler.plan_after(_ended(quiet, a, RunStatus.SUCCEEDED))
    assert sorted(r.sync_name for r in started) == [b, d]
    assert {r.trigger for r in started} == {Trigger.AFTER}
    assert scheduler.plan_after(_ended(quiet, a, RunStatus.SUCCEEDED))[0].id in {
        r.id for r in started
    }  # a second end folds into the planned run
    failed = scheduler.plan_after(_ended(quiet, b, RunStatus.FAILED))
    assert failed == []  # c runs after b succeeds only
    assert [r.sync_name for r in scheduler.plan_after(_ended(quiet, a, RunStatus.FAILED))] == [d]

    with pytest.raises(
        ConfigError, match=rf"syncs\.{a}\.after: .*{a} after {c} after {b} after {a}"
    ):
        apply(quiet, shop, tmp_path, {**syncs, a: {"after": [c]}})
    with pytest.raises(ConfigError, match=rf"syncs\.{b}\.after: no sync named 'nope'"):
        apply(quiet, shop, tmp_path, {**syncs, b: {"after": ["nope"]}})


def test_a_disabled_sync_has_no_planned_runs_and_refuses_manual_ones(quiet, shop, tmp_path, name):
    apply(quiet, shop, tmp_path, {name: {"schedule": {"every": "1h"}}})
    [first] = planned(quiet, name)
    quiet.runs.set_enabled(name, False)
    assert planned(quiet, name) == []
    assert quiet.store.runs.get(first.id).status is RunStatus.ABORTED
    Scheduler(quiet.store).plan_schedules(utcnow())
    assert planned(quiet, name) == []
    quiet.runs.submitter = _NoEngine()
    with pytest.raises(ConfigError, match=f"disabled; `syncwright enable {name}` turns it on"):
        quiet.runs.trigger(name)
    quiet.runs.set_enabled(name, True)
    assert len(planned(quiet, name)) == 1


class _NoEngine:
    def submit(self, run):
        raise AssertionError("nothing should be submitted")

    def cancel(self, run_id):
        raise AssertionError("nothing should be cancelled")


def test_bad_triggers_are_refused_naming_the_field(quiet, shop, tmp_path, name):
    for values, field in (
        ({"schedule": {"every": "soon"}}, "schedule.every"),
        ({"schedule": {"cron": "at noon"}}, "schedule.cron"),
        ({"schedule": {"cron": "0 * * * *", "timezone": "Nowhere/Else"}}, "schedule.timezone"),
        ({"schedule": {}}, "schedule"),
        ({"timeout": "a while"}, "timeout"),
        ({"when_busy": "panic"}, "when_busy"),
    ):
        with pytest.raises(ConfigError, match=rf"syncs\.{name}\.{field}"):
            apply(quiet, shop, tmp_path, {name: values})


# -- the engine by itself, in real time --------------------------------------------------------
def wait(check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("not true in time")


def runs_of(app, name):
    return app.runs.list(sync_name=name, limit=100)


def test_the_engine_runs_an_interval_sync_on_time_by_itself(app, shop, tmp_path, name):
    apply(app, shop, tmp_path, {name: {"schedule": {"every": "2s"}}})
    done = wait(
        lambda: (
            [r for r in runs_of(app, name) if r.status is RunStatus.SUCCEEDED][:2]
            if len([r for r in runs_of(app, name) if r.status is RunStatus.SUCCEEDED]) >= 2
            else None
        ),
        timeout=30,
    )
    app.runs.set_enabled(name, False)
    ticks = sorted(r.infos["planned_for"] for r in done)
    assert len(set(ticks)) == 2 and all(r.trigger is Trigger.SCHEDULE for r in done)
    for run in done:  # started at or after its tick, not before
        assert run.started_at.isoformat() >= run.infos["planned_for"][:19]


def test_the_engine_runs_an_after_chain(app, shop, tmp_path, name):
    a, b, c = (f"{name}_{x}" for x in "abc")
    apply(app, shop, tmp_path, {a: {}, b: {"after": [a]}, c: {"after": [b]}})
    run_sync(app, a)
    last = wait(lambda: [r for r in runs_of(app, c) if r.status.is_final], timeout=30)
    assert last[0].status is RunStatus.SUCCEEDED and last[0].trigger is Trigger.AFTER
    assert runs_of(app, b)[0].trigger is Trigger.AFTER


@pytest.fixture
def api():
    """An HTTP destination; the tests hold it (``hold``, ``release``) to keep a run live."""
    server = HttpApi()
    yield server
    server.close()


def over_http(app, shop, tmp_path, name, api, **values):
    """Sync ``name`` to ``api``: batches of 2 items, one request per item, one at a time."""
    destination = {
        "type": "http",
        "url": f"{api.url}/items",
        "batch_size": 1,
        "concurrency": 1,
    }
    apply(app, shop, tmp_path, {name: {"batch_size": 2, **values}}, destination=destination)


def test_cancel_a_running_run_records_the_items_it_never_sent(app, shop, tmp_path, name, api):
    over_http(app, shop, tmp_path, name, api)
    api.hold(after=2)  # the first batch goes through; the second waits at the destination
    run = app.runs.trigger(name)
    wait(lambda: api.held and app.runs.get(run.id).counters.ok == 2)
    behind = app.runs.trigger(name)  # queued behind the live run
    cancelled = app.runs.cancel(run.id)
    assert cancelled.status is RunStatus.ABORTED and cancelled.infos["error"] == "cancelled"
    app.runs.cancel(behind.id)
    api.release()  # the batch in flight finishes; nothing else is sent
    wait(lambda: run.id not in app.engine.runtime.active)  # its workflow ended here
    # The batch that was out is recorded (the run's counters say so) before reading entries.
    wait(lambda: app.runs.get(run.id).counters.ok == 4)
    entries = app.report.entries(run_id=run.id, limit=100)
    ok = [e for e in entries if e.status is EntryStatus.OK]
    unsent = [e for e in entries if e.status is EntryStatus.NOT_SENT]
    assert len(ok) == 4 and len(unsent) == 6 and all(e.attempts == 0 for e in unsent)
    counters = wait(lambda: (r := app.runs.get(run.id)).counters.ok == 4 and r).counters
    assert (counters.ok, counters.pending, counters.not_sent) == (4, 0, 6)
    assert counters.problems() == []
    assert len(api.requests) == len(ok)  # what was sent is the first two batches, no more
    assert app.runs.get(behind.id).status is RunStatus.ABORTED
    assert app.report.entries(run_id=behind.id) == []  # it never started
    with pytest.raises(ConfigError, match="already ended"):
        app.runs.cancel(run.id)
    assert run_sync(app, name).status is RunStatus.SUCCEEDED  # the sync carries on


def test_a_trigger_while_busy_is_skipped_when_configured(app, shop, tmp_path, name, api):
    over_http(app, shop, tmp_path, name, api, when_busy="skip")
    api.hold()
    run = app.runs.trigger(name)
    wait(lambda: api.held)  # the run is delivering, held there
    assert app.runs.get(run.id).status is RunStatus.IN_PROGRESS
    skipped = app.runs.trigger(name)
    assert skipped.status is RunStatus.SKIPPED
    assert skipped.infos["reason"] == "another run of the sync was live"
    api.release()
    assert app.runs.wait(run.id, timeout=60).status is RunStatus.SUCCEEDED


def test_a_run_longer_than_the_timeout_is_aborted(app, shop, tmp_path, name, api):
    over_http(app, shop, tmp_path, name, api, timeout=3)
    api.hold(after=2)  # the first batch goes through; the second is held past the timeout
    run = app.runs.trigger(name)
    wait(lambda: api.held)
    started = app.runs.get(run.id).started_at
    wait(lambda: utcnow() - started > timedelta(seconds=3))
    assert app.runs.get(run.id).status is RunStatus.IN_PROGRESS
    api.release()  # the batch in flight ends; the next one finds the run out of time
    ended = app.runs.wait(run.id, timeout=60)
    assert ended.status is RunStatus.ABORTED
    assert ended.error == "timed out: still running after 3 s (the sync's timeout)"
    assert (ended.counters.ok, ended.counters.pending, ended.counters.not_sent) == (4, 0, 6)


def test_a_sync_failing_n_times_in_a_row_is_turned_off(app, shop, tmp_path, name):
    with sqlite3.connect(shop.path) as db:
        db.execute("CREATE VIEW feed AS SELECT *, 1 AS nope FROM products")
    apply(
        app,
        shop,
        tmp_path,
        {name: {"disable_after_failures": 2}},
        model_query="SELECT * FROM feed WHERE nope = 1",
    )
    with sqlite3.connect(shop.path) as db:  # the column the model asks for goes
        db.execute("DROP VIEW feed")
        db.execute("CREATE VIEW feed AS SELECT * FROM products")
    first = run_sync(app, name)
    assert first.status is RunStatus.FAILED
    assert app.store.config.sync_by_name(app.workspace_id, name).enabled
    second = run_sync(app, name)
    sync = app.store.config.sync_by_name(app.workspace_id, name)
    assert not sync.enabled and "after 2 failed runs in a row" in sync.disabled_reason
    assert "no such column" in sync.disabled_reason or "nope" in sync.disabled_reason
    assert app.runs.get(second.id).infos["disabled_sync"] == sync.disabled_reason
    with pytest.raises(ConfigError, match="after 2 failed runs in a row"):
        app.runs.trigger(name)


def test_a_webhook_secret_starts_its_sync_and_nothing_else(app, shop, tmp_path, name):
    apply(app, shop, tmp_path, {name: {"webhook": True}, f"{name}_other": {}})
    token, _ = app.runs.webhook(name)
    assert token and app.runs.webhook(name) == (None, app.runs.webhook(name)[1])  # shown once
    run = app.runs.trigger_webhook(token)
    assert run.trigger is Trigger.WEBHOOK and run.sync_name == name
    assert app.runs.wait(run.id, timeout=60).status is RunStatus.SUCCEEDED
    with pytest.raises(NotFound, match="no such webhook"):
        app.runs.trigger_webhook(token + "x")
    rotated, _ = app.runs.webhook(name, rotate=True)
    with pytest.raises(NotFound):
        app.runs.trigger_webhook(token)  # the old secret stopped working
    assert app.runs.trigger_webhook(rotated).trigger is Trigger.WEBHOOK
    with pytest.raises(ConfigError, match="webhook: true"):
        app.runs.webhook(f"{name}_other")
    apply(app, shop, tmp_path, {name: {}, f"{name}_other": {}})  # webhook turned off
    with pytest.raises(NotFound):
        app.runs.trigger_webhook(rotated)


# -- capacity ---------------------------------------------------------------------------------
def _queued(app, name, trigger):
    return bare_run(app, name, trigger=trigger)


def _drain_waiting(app):
    """Earlier tests of this module leave runs waiting in the store: end them."""
    for run in app.store.runs.with_status(frozenset({RunStatus.QUEUED})):
        app.store.runs.transition(run.id, RunStatus.ABORTED, ended=True)


def test_admission_puts_people_first_and_holds_every_cap(quiet, shop, tmp_path, name):
    _drain_waiting(quiet)
    other = {"type": "sql", "url": f"sqlite:///{tmp_path / 'other.db'}", "table": "products"}
    doc = {
        "sources": {"shop": {"type": "sql", "url": shop.url}},
        "models": {
            "products": {"source": "shop", "query": "SELECT * FROM products", "primary_key": "id"}
        },
        "destinations": {
            "capped": {
                "type": "sql",
                "url": f"sqlite:///{tmp_path / 'd.db'}",
                "table": "products",
                "max_runs": 1,
            },
            "other": other,
        },
        "syncs": {
            f"{name}_x": {"model": "products", "destination": "capped"},
            f"{name}_y": {"model": "products", "destination": "capped"},
            f"{name}_z": {"model": "products", "destination": "other"},
            f"{name}_w": {"model": "products", "destination": "other"},
        },
    }
    quiet.configs.apply(parse_config(yaml.safe_dump(doc)), base_dir=tmp_path)
    scheduled_x = _queued(quiet, f"{name}_x", Trigger.SCHEDULE)
    scheduled_z = _queued(quiet, f"{name}_z", Trigger.SCHEDULE)
    again_z = _queued(quiet, f"{name}_z", Trigger.SCHEDULE)
    manual_y = _queued(quiet, f"{name}_y", Trigger.MANUAL)
    manual_w = _queued(quiet, f"{name}_w", Trigger.MANUAL)
    handed: list = []

    one = Admission(quiet.store, handed.append, max_runs=1).admit()
    assert [r.id for r in one] == [manual_y.id]  # the oldest of the people's runs first
    everything = Admission(quiet.store, handed.append).admit()
    # x waits: its destination allows one run and y holds it; z's second run waits for its first.
    assert {r.id for r in everything} == {manual_w.id, scheduled_z.id}
    assert [r.id for r in handed] == [manual_y.id, *[r.id for r in everything]]
    assert all(r.admitted_at is not None for r in handed)

    quiet.store.runs.transition(manual_y.id, RunStatus.ABORTED, ended=True)
    quiet.store.runs.transition(scheduled_z.id, RunStatus.ABORTED, ended=True)
    assert {r.id for r in Admission(quiet.store, handed.append).admit()} == {
        scheduled_x.id,
        again_z.id,
    }
    assert Admission(quiet.store, handed.append).admit() == []
    with pytest.raises(ConfigError, match=r"destinations\.capped\.max_runs"):
        doc["destinations"]["capped"]["max_runs"] = 0
        quiet.configs.apply(parse_config(yaml.safe_dump(doc)), base_dir=tmp_path)
