"""The worker's copy of a sync's snapshot (engine/snapshot_cache.py) against the store's log
it stands for, on SQLite and PostgreSQL stores: caught up, built again, or not used."""

from __future__ import annotations

import random
import subprocess
import sys
import uuid

import duckdb
import pyarrow as pa
import pytest
import sqlalchemy as sa

from syncwright.engine import snapshot_cache
from syncwright.engine.staging import Staging
from syncwright.storage.snapshots_repo import part
from syncwright.storage.store import Store
from syncwright.storage.tables import snapshot_parts


def _items(staging: Staging) -> dict[str, str]:
    return dict(staging.db.execute("SELECT item_key, row_hash FROM prev").fetchall())


def loaded(store: Store, sync: str, tmp_path) -> dict[str, str]:
    """The snapshot as a run reading the store's log sees it."""
    staging = Staging(tmp_path / f"{uuid.uuid4()}.duckdb", primary_key=("id",))
    try:
        staging.load_snapshot(store.snapshots.read(sync))
        return _items(staging)
    finally:
        staging.close()


def on_copy(store: Store, sync: str, path, tmp_path) -> tuple[dict[str, str], int]:
    """The snapshot as a run on the copy at ``path`` sees it, and the parts it read."""
    staging = Staging(tmp_path / f"{uuid.uuid4()}.duckdb", primary_key=("id",))
    try:
        used = staging.use_copy(path, store.snapshots, sync)
        assert used is not None
        return _items(staging), used[1]
    finally:
        staging.close()


def append(store: Store, sync: str, table: pa.Table, *, base: bool = False) -> None:
    with store.engine.begin() as conn:
        store.snapshots.append(conn, sync, table, base=base)


def changes(rng: random.Random, label: str) -> pa.Table:
    """A part naming a few items: each changed (its hash says which part) or removed."""
    named = {
        f'{{"id":{rng.randrange(60)}}}': rng.random() < 0.3 for _ in range(rng.randrange(1, 12))
    }
    return part(
        list(named),
        ["r"] * len(named),
        [None if removed else f"h{label}-{key}" for key, removed in named.items()],
        list(named.values()),
    )


@pytest.mark.parametrize("seed", range(4))
def test_the_copy_follows_the_log_reading_only_the_parts_since(store, tmp_path, seed):
    rng = random.Random(seed)
    sync = str(uuid.uuid4())
    path = tmp_path / "copy.duckdb"
    base = [f'{{"id":{i}}}' for i in rng.sample(range(60), 30)]
    for chunk in (base[:12], base[12:]):  # a first load's batches: parts of the base
        append(
            store,
            sync,
            part(chunk, ["r"] * len(chunk), ["b"] * len(chunk), [False] * len(chunk)),
            base=True,
        )
    found, read = on_copy(store, sync, path, tmp_path)
    assert (found, read) == (loaded(store, sync, tmp_path), 2)
    for round_ in range(6):
        new = [changes(rng, f"{round_}.{i}") for i in range(rng.randrange(0, 3))]
        for table in new:
            append(store, sync, table)
        found, read = on_copy(store, sync, path, tmp_path)
        assert found == loaded(store, sync, tmp_path)
        assert read == len(new)  # only the parts since the copy's last use
    # The log folded by a run on this copy: the copy stands for the new base, read again
    # only when the log moves on.
    staging = Staging(tmp_path / "fold.duckdb", primary_key=("id",))
    try:
        log, _ = staging.use_copy(path, store.snapshots, sync)
        with store.engine.begin() as conn:
            parts = store.snapshots.fold(
                conn, sync, staging.snapshot_batches(), through=log.last_part
            )
        staging.folded(parts)
    finally:
        staging.close()
    assert store.snapshots.read(sync).folded
    assert on_copy(store, sync, path, tmp_path) == (loaded(store, sync, tmp_path), 0)


def test_a_copy_the_log_no_longer_agrees_with_is_built_again(store, tmp_path):
    sync = str(uuid.uuid4())
    path = tmp_path / "copy.duckdb"
    keys = [f'{{"id":{i}}}' for i in range(10)]
    append(store, sync, part(keys, ["r"] * 10, ["a"] * 10, [False] * 10), base=True)
    append(store, sync, part(keys[:2], ["r"] * 2, ["b", None], [False, True]))
    assert on_copy(store, sync, path, tmp_path)[1] == 2
    # Another worker folded the log (new parts, none of which this copy took in).
    with store.engine.begin() as conn:
        store.snapshots.fold(
            conn,
            sync,
            store.snapshots.read(sync).parts[0][1].to_batches(),
            through=store.snapshots.read(sync).last_part,
        )
    found, read = on_copy(store, sync, path, tmp_path)
    assert (found, read) == (loaded(store, sync, tmp_path), 1)
    assert found[keys[1]] == "a"  # the fold's base, not the copy's older removal
    # A part the copy took in is gone (a store restored from a backup): built again.
    append(store, sync, part(keys[3:4], ["r"], [None], [True]))
    assert on_copy(store, sync, path, tmp_path)[1] == 1
    with store.engine.begin() as conn:
        newest = conn.execute(sa.select(sa.func.max(snapshot_parts.c.id))).scalar_one()
        conn.execute(snapshot_parts.delete().where(snapshot_parts.c.id == newest))
    found, read = on_copy(store, sync, path, tmp_path)
    assert (found, read) == (loaded(store, sync, tmp_path), 1) and keys[3] in found
    # A part of the same number and size as one the copy took in, but another part (SQLite
    # gives a deleted newest row's number again): told apart by its token.
    append(store, sync, part(keys[5:6], ["r"], [None], [True]))
    assert on_copy(store, sync, path, tmp_path)[1] == 1
    with store.engine.begin() as conn:
        newest = conn.execute(sa.select(sa.func.max(snapshot_parts.c.id))).scalar_one()
        conn.execute(snapshot_parts.delete().where(snapshot_parts.c.id == newest))
    append(store, sync, part(keys[6:7], ["r"], ["z"], [False]))
    found, read = on_copy(store, sync, path, tmp_path)
    assert found == loaded(store, sync, tmp_path)
    assert keys[5] in found and found[keys[6]] == "z"


def test_a_fold_the_copy_did_not_see_is_never_taken_for_the_copy(store, tmp_path):
    """The copy took in the base only; a later part was delivered and the log folded by a
    run that did not use this copy (held, or another worker's): the new base may have the
    old base's number and size (SQLite numbers it again), yet the copy is built again."""
    sync = str(uuid.uuid4())
    path = tmp_path / "copy.duckdb"
    keys = [f'{{"id":{i}}}' for i in range(10)]
    append(store, sync, part(keys, ["r"] * 10, ["a"] * 10, [False] * 10), base=True)
    assert on_copy(store, sync, path, tmp_path)[1] == 1
    append(store, sync, part(keys[:3], ["r"] * 3, ["b"] * 3, [False] * 3))
    folded = loaded(store, sync, tmp_path)
    with store.engine.begin() as conn:
        store.snapshots.fold(
            conn,
            sync,
            [part(list(folded), ["r"] * 10, list(folded.values()), [False] * 10).to_batches()[0]],
            through=store.snapshots.read(sync).last_part,
        )
    found, read = on_copy(store, sync, path, tmp_path)
    assert found == folded and found[keys[0]] == "b"


def test_an_unreadable_copy_is_made_anew_and_a_held_one_is_not_used(store, tmp_path):
    sync = str(uuid.uuid4())
    path = tmp_path / "copy.duckdb"
    keys = [f'{{"id":{i}}}' for i in range(5)]
    append(store, sync, part(keys, ["r"] * 5, ["a"] * 5, [False] * 5), base=True)
    path.write_bytes(b"not a database" * 100)
    assert on_copy(store, sync, path, tmp_path) == (loaded(store, sync, tmp_path), 1)
    # Another process holds the copy: a run compares with the store's log instead.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; db = duckdb.connect(sys.argv[1]); print('held', flush=True);"
            " sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        staging = Staging(tmp_path / "held.duckdb", primary_key=("id",))
        try:
            assert staging.use_copy(path, store.snapshots, sync) is None
            assert not staging.on_copy
        finally:
            staging.close()
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert on_copy(store, sync, path, tmp_path) == (loaded(store, sync, tmp_path), 0)


def test_a_store_with_snapshot_rows_from_before_0005_is_read_from_the_store(store, tmp_path):
    from syncwright.storage.tables import snapshots

    sync = str(uuid.uuid4())
    with store.engine.begin() as conn:
        conn.execute(
            snapshots.insert(),
            [{"sync_id": sync, "item_key": "[1]", "reference": "r", "row_hash": "h"}],
        )
    staging = Staging(tmp_path / "legacy.duckdb", primary_key=("id",))
    try:
        assert staging.use_copy(tmp_path / "copy.duckdb", store.snapshots, sync) is None
        staging.load_snapshot(store.snapshots.read(sync))  # into its own table, as before
        assert staging.db.execute("SELECT item_key, row_hash FROM prev").fetchall() == [
            ("[1]", "h")
        ]
    finally:
        staging.close()


def test_a_copy_that_cannot_be_made_is_no_copy(store, tmp_path):
    sync = str(uuid.uuid4())
    append(store, sync, part(['{"id":1}'], ["r"], ["a"], [False]), base=True)
    (tmp_path / "not-a-folder").write_text("")
    staging = Staging(tmp_path / "s.duckdb", primary_key=("id",))
    try:
        assert (
            staging.use_copy(tmp_path / "not-a-folder" / "c.duckdb", store.snapshots, sync) is None
        )
        staging.load_snapshot(store.snapshots.read(sync))
        assert staging.db.execute("SELECT item_key FROM prev").fetchall() == [('{"id":1}',)]
    finally:
        staging.close()


def test_only_a_lock_held_elsewhere_counts_as_a_copy_in_use():
    held = duckdb.IOException('IO Error: Could not set lock on file "c.duckdb": Conflicting lock')
    corrupt = duckdb.IOException("Corrupt database file: computed checksum 1 in block 7")
    assert snapshot_cache.held_elsewhere(held) and not snapshot_cache.held_elsewhere(corrupt)
