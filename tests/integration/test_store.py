"""The store on SQLite and PostgreSQL: migrations and the run record."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from syncwright.domain.errors import IllegalTransition
from syncwright.domain.statuses import RunMode, RunStatus, Trigger
from syncwright.storage.database import current_revision, head_revision
from syncwright.storage.store import Store
from tests.support.examples import SEED_RUN_FIELDS

_n = itertools.count()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "postgres":
        url = request.getfixturevalue("postgres").create_database(f"store_t{next(_n)}")
    else:
        url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store.open(url)
    store.upgrade()
    yield store
    store.close()


def test_migrations_reach_head_and_are_idempotent(store):
    assert current_revision(store.engine) == head_revision()
    store.upgrade()
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {
        "workspaces",
        "users",
        "sources",
        "models",
        "destinations",
        "syncs",
        "runs",
        "entries",
        "snapshots",
    } <= tables


def test_sqlite_store_uses_wal(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


def test_a_run_carries_the_synchronisation_record(store):
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("runs")}
    assert (
        SEED_RUN_FIELDS
        | {"sync_id", "trigger", "mode", "read", "added", "changed", "removed", "ok", "failed"}
        <= columns
    )


def _sync(store):
    ws = store.config.ensure_workspace("w")
    with store.engine.begin() as conn:
        src, _ = store.config.save(
            conn, "source", ws, "s", {"type": "sql", "config": {"url": "sqlite://"}}
        )
        dst, _ = store.config.save(
            conn,
            "destination",
            ws,
            "d",
            {"type": "sql", "config": {"url": "sqlite://", "table": "t"}},
        )
        model, _ = store.config.save(
            conn,
            "model",
            ws,
            "m",
            {
                "source_id": src,
                "query": "q",
                "primary_key": ["id"],
                "reference": None,
                "cursor": None,
            },
        )
        sync, _ = store.config.save(
            conn,
            "sync",
            ws,
            "y",
            {
                "model_id": model,
                "destination_id": dst,
                "type": "resources_update",
                "write_mode": "upsert",
                "detection": "diff",
                "enabled": True,
                "folder": None,
                "labels": [],
                "settings": {},
            },
        )
    return ws, sync


def test_transitions_are_persisted_and_illegal_ones_refused(store):
    ws, sync = _sync(store)
    run = store.runs.create(
        workspace_id=ws,
        sync_id=sync,
        type="resources_update",
        trigger=Trigger.MANUAL,
        mode=RunMode.INCREMENTAL,
    )
    assert run.status is RunStatus.QUEUED and run.created_at.tzinfo is not None
    querying = store.runs.transition(
        run.id, RunStatus.QUERYING, runner="w1", started=True, infos={"progress": {"done": 0}}
    )
    assert querying.started_at and querying.runner == "w1" and querying.infos["stage"] == "querying"
    assert querying.updated_at >= run.updated_at
    with pytest.raises(IllegalTransition):
        store.runs.transition(run.id, RunStatus.QUEUED)
    store.runs.transition(run.id, RunStatus.FAILED, infos={"error": "boom"}, ended=True)
    failed = store.runs.get(run.id)
    assert failed.error == "boom" and failed.ended_at and failed.infos["progress"] == {"done": 0}
    with pytest.raises(IllegalTransition):
        store.runs.transition(run.id, RunStatus.SUCCEEDED)


def test_saving_config_is_idempotent(store):
    ws, _ = _sync(store)
    with store.engine.begin() as conn:
        _, action = store.config.save(
            conn, "source", ws, "s", {"type": "sql", "config": {"url": "sqlite://"}}
        )
        assert action == "unchanged"
        _, action = store.config.save(
            conn, "source", ws, "s", {"type": "sql", "config": {"url": "sqlite:///x"}}
        )
        assert action == "updated"
