"""A worker's copy of each sync's snapshot, in a DuckDB file of its work directory.

The store's snapshot log (see ``storage.snapshots_repo``) stays the truth: the copy holds its
items as of some part, with the numbers and sizes of the parts it took in, and each use first
compares those with the store's description of the log (no part read). When they agree, only
the parts recorded since are read and applied; when they do not (the log was folded, a part
vanished or came late, another worker delivered, a store was restored), the copy is built
again from the whole log. A run so reads no part of the snapshot when nothing was delivered
since the previous run here, and a few small ones after a run that delivered. A copy that is
missing, unreadable or held by another process is no copy: the run reads the store's log.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

import duckdb
import pyarrow as pa

from syncwright.storage.snapshots_repo import (
    BASE_PART,
    PART_SCHEMA,
    PartInfo,
    SnapshotLog,
    SnapshotRepository,
)

logger = logging.getLogger("syncwright.engine")

#: The layout of the copy's tables; a copy of another layout is built again.
FORMAT = 1
ALIAS = "snap"


def cache_path(work_dir: Path, sync_id: str) -> Path:
    return work_dir / "snapshots" / f"{sync_id}.duckdb"


def attach(db: duckdb.DuckDBPyConnection, path: Path) -> bool:
    """Attach the copy at ``path`` to ``db`` as ``snap`` (created when missing). False when
    another process or connection holds it; an unreadable file is removed and made anew."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Compressing the copy's strings made building it for 1M items 1.0 s instead of 0.4 s
    # (its file is 46 MB then, against about 120 MB).
    db.execute("SET force_compression = 'uncompressed'")
    # A run's changes stay in the copy's write-ahead log (about 1 MB for 16k items, replayed
    # in milliseconds by the next attach) until it outgrows DuckDB's checkpoint threshold:
    # a checkpoint rewrites every row group an item changed in (0.15 s at 1M items).
    db.execute("PRAGMA disable_checkpoint_on_shutdown")
    for attempt in (1, 2):
        try:
            db.execute(f"ATTACH '{_literal(path)}' AS {ALIAS}")
            _ensure_tables(db)
            return True
        except duckdb.Error as exc:
            _detach(db)
            if _held(exc) or attempt == 2:
                logger.info("the snapshot's copy %s is not usable now: %s", path.name, exc)
                return False
            logger.warning("the snapshot's copy %s is unreadable, made anew: %s", path.name, exc)
            for stale in (path, path.with_name(path.name + ".wal")):
                stale.unlink(missing_ok=True)
    return False


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")


def _held(exc: duckdb.Error) -> bool:
    return isinstance(exc, duckdb.ResourceInUseException) or "lock" in str(exc).lower()


def _detach(db: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        db.execute(f"DETACH DATABASE IF EXISTS {ALIAS}")


def _ensure_tables(db: duckdb.DuckDBPyConnection) -> None:
    db.execute(f"CREATE TABLE IF NOT EXISTS {ALIAS}.layout (format INTEGER)")
    found = db.execute(f"SELECT format FROM {ALIAS}.layout").fetchall()
    if found != [(FORMAT,)]:
        db.execute("BEGIN")
        for table in ("items", "parts"):
            db.execute(f"DROP TABLE IF EXISTS {ALIAS}.{table}")
        db.execute(f"DELETE FROM {ALIAS}.layout")
        db.execute(f"INSERT INTO {ALIAS}.layout VALUES ({FORMAT})")
        db.execute(
            f"CREATE TABLE {ALIAS}.items (item_key VARCHAR, reference VARCHAR, row_hash VARCHAR)"
        )
        db.execute(f"CREATE TABLE {ALIAS}.parts (id BIGINT, items BIGINT)")
        db.execute("COMMIT")


def catch_up(
    db: duckdb.DuckDBPyConnection, repo: SnapshotRepository, sync_id: str
) -> tuple[SnapshotLog, int] | None:
    """Bring the copy attached to ``db`` up to the store's log of ``sync_id``: the log as
    described, and how many of its parts were read (None when the store still has snapshot
    rows from before 0005, which only its own read folds)."""
    infos, legacy = repo.describe(sync_id)
    if legacy:
        return None
    have = [
        (int(i), int(n))
        for i, n in db.execute(f"SELECT id, items FROM {ALIAS}.parts ORDER BY id").fetchall()
    ]
    through = have[-1][0] if have else 0
    newer = [p for p in infos if p.id > through]
    again = [(p.id, p.items) for p in infos if p.id <= through] != have or any(
        p.base for p in newer
    )
    if again:
        newer = list(infos)
    read = _apply(db, repo.read_parts(sync_id, [p.id for p in newer]), newer, again=again)
    return SnapshotLog.described(infos), read


def _apply(
    db: duckdb.DuckDBPyConnection,
    parts: Iterator[tuple[int, pa.Table]],
    expected: list[PartInfo],
    *,
    again: bool,
) -> int:
    """Take ``parts`` (those described as ``expected``) into the copy, in one transaction:
    the leading parts of the base straight (a copy built again), then the newest naming
    each item among the others. Nothing changes when a part is missing (the log moved on
    meanwhile): the copy stays as it was and the error says so. Returns the parts read."""
    read: list[tuple[int, int]] = []
    newer: list[tuple[int, pa.Table]] = []
    #: Parts of the base not inserted yet: inserted in groups (each insert costs the same
    #: few milliseconds whatever its size).
    held: list[pa.Table] = []
    bases = again
    db.execute("BEGIN")
    try:
        if again:
            db.execute(f"DELETE FROM {ALIAS}.items")
            db.execute(f"DELETE FROM {ALIAS}.parts")
        for (number, table), info in zip(parts, expected):
            if number != info.id:
                raise duckdb.Error(f"the snapshot's part {info.id} is gone")
            read.append((number, table.num_rows))
            bases = bases and info.base
            if bases:
                held.append(table)
                if sum(t.num_rows for t in held) >= BASE_PART:
                    _insert(db, held)
                    held = []
            else:
                newer.append((number, table))
        if len(read) != len(expected):
            raise duckdb.Error("the snapshot's log changed while it was read")
        _insert(db, held)
        if newer:
            _newest(db, newer)
        if read:
            db.executemany(f"INSERT INTO {ALIAS}.parts VALUES (?, ?)", [list(r) for r in read])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return len(read)


def _insert(db: duckdb.DuckDBPyConnection, tables: list[pa.Table]) -> None:
    if not tables:
        return
    db.register("part", pa.concat_tables(t.cast(PART_SCHEMA) for t in tables))
    try:
        db.execute(
            f"INSERT INTO {ALIAS}.items SELECT item_key, reference, row_hash FROM part"
            " WHERE NOT removed"
        )
    finally:
        db.unregister("part")


def _newest(db: duckdb.DuckDBPyConnection, parts: list[tuple[int, pa.Table]]) -> None:
    """The items the parts name, as the newest part naming each says."""
    log = pa.concat_tables(
        t.cast(PART_SCHEMA).append_column("part", pa.repeat(pa.scalar(n, pa.int64()), t.num_rows))
        for n, t in parts
    )
    db.register("log", log)
    try:
        db.execute(f"DELETE FROM {ALIAS}.items WHERE item_key IN (SELECT item_key FROM log)")
        db.execute(
            f"INSERT INTO {ALIAS}.items SELECT item_key, reference, row_hash FROM ("
            " SELECT *, row_number() OVER (PARTITION BY item_key ORDER BY part DESC) AS n"
            " FROM log) WHERE n = 1 AND NOT removed"
        )
    finally:
        db.unregister("log")


def refolded(db: duckdb.DuckDBPyConnection, parts: list[PartInfo]) -> None:
    """The store's log was folded into ``parts`` from the items of the copy attached to
    ``db`` (as they were read): the copy now stands for those parts."""
    db.execute("BEGIN")
    db.execute(f"DELETE FROM {ALIAS}.parts")
    db.executemany(f"INSERT INTO {ALIAS}.parts VALUES (?, ?)", [[p.id, p.items] for p in parts])
    db.execute("COMMIT")


def refresh(path: Path, repo: SnapshotRepository, sync_id: str, *, memory_limit: str) -> None:
    """Bring the copy at ``path`` up to the store's log (after a run delivered), so that the
    sync's next run here reads only what came since. A failure leaves the copy behind, and
    the next run catches it up or builds it again."""
    db = duckdb.connect()
    try:
        db.execute(f"SET memory_limit = '{memory_limit}'")
        db.execute("SET preserve_insertion_order = false")
        db.execute(f"SET temp_directory = '{_literal(path.with_suffix('.tmp'))}'")
        if attach(db, path):
            catch_up(db, repo, sync_id)
    except Exception as exc:  # the copy is a convenience: the run's outcome does not depend on it
        logger.warning("the snapshot's copy %s was not brought up to date: %s", path.name, exc)
    finally:
        db.close()
