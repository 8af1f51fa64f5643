"""A worker's copy of each sync's snapshot, in a DuckDB file of its work directory.

The store's snapshot log (see ``storage.snapshots_repo``) stays the truth: the copy holds its
items as of some part, with the number, size and token of each part it took in, and each use
first compares those with the store's description of the log (no part read). When they
agree, only the parts recorded since are read and applied; when they do not (the log was
folded elsewhere, a part vanished or came late, a store was restored), the copy is built
again from the whole log. A run so reads no part of the snapshot when nothing was delivered
since the previous run here, and a few small ones after a run that delivered. A copy that
is missing, unreadable or held by another process is no copy: the run reads the store's log.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterable, Iterator

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
FORMAT = 2
ALIAS = "snap"

#: What the copy remembers of each part it took in.
Taken = tuple[int, int, str | None]
#: The store's description of a sync's log (``SnapshotRepository.describe``).
Description = tuple[list[PartInfo], bool]

#: A sync gets a copy once its snapshot's log holds this many items: a smaller one loads
#: from the store in a few milliseconds, less than opening a copy and keeping it up to date.
MIN_ITEMS = 100_000


def cache_path(work_dir: Path, sync_id: str) -> Path:
    return work_dir / "snapshots" / f"{sync_id}.duckdb"


def wanted(path: Path, repo: SnapshotRepository, sync_id: str) -> tuple[bool, Description | None]:
    """Whether the sync has a copy at ``path``, or its log is large enough for one; with the
    log's description when it was read to tell (for ``catch_up``)."""
    if path.exists():
        return True, None
    described = repo.describe(sync_id)
    return sum(p.items for p in described[0]) >= MIN_ITEMS, described


def attach(db: duckdb.DuckDBPyConnection, path: Path) -> bool:
    """Attach the copy at ``path`` to ``db`` as ``snap`` (created when missing). False when
    another process or connection holds it, or it cannot be made; an unreadable file is
    removed and made anew."""
    # Compressing the copy's strings made building it for 1M items 1.0 s instead of 0.4 s
    # (its file is then about 46 MB instead of 70).
    db.execute("SET force_compression = 'uncompressed'")
    # A run's changes stay in the copy's write-ahead log (about 1 MB for 16k items, replayed
    # in milliseconds by the next attach) until it outgrows DuckDB's checkpoint threshold:
    # a checkpoint rewrites every row group an item changed in (0.15 s at 1M items).
    db.execute("PRAGMA disable_checkpoint_on_shutdown")
    for attempt in (1, 2):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db.execute(f"ATTACH '{_literal(path)}' AS {ALIAS}")
            _ensure_tables(db)
            return True
        except (duckdb.Error, OSError) as exc:
            detach(db)
            if held_elsewhere(exc) or attempt == 2 or not isinstance(exc, duckdb.Error):
                logger.info("the snapshot's copy %s is not usable now: %s", path.name, exc)
                return False
            logger.warning("the snapshot's copy %s is unreadable, made anew: %s", path.name, exc)
            try:
                for stale in (path, path.with_name(path.name + ".wal")):
                    stale.unlink(missing_ok=True)
            except OSError as gone:
                logger.info("the snapshot's copy %s cannot be removed: %s", path.name, gone)
                return False
    return False


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")


def held_elsewhere(exc: BaseException) -> bool:
    """Whether attaching failed because another process or connection has the file."""
    in_use = getattr(duckdb, "ResourceInUseException", ())
    message = str(exc).lower()
    return (
        isinstance(exc, in_use) or "could not set lock" in message or "conflicting lock" in message
    )


def detach(db: duckdb.DuckDBPyConnection) -> None:
    """Let go of the copy attached to ``db`` (with any transaction left open on it)."""
    with contextlib.suppress(duckdb.Error):
        db.execute("ROLLBACK")
    with contextlib.suppress(duckdb.Error):
        db.execute(f"DETACH DATABASE IF EXISTS {ALIAS}")


@contextlib.contextmanager
def _transaction(db: duckdb.DuckDBPyConnection) -> Iterator[None]:
    db.execute("BEGIN")
    try:
        yield
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _ensure_tables(db: duckdb.DuckDBPyConnection) -> None:
    db.execute(f"CREATE TABLE IF NOT EXISTS {ALIAS}.layout (format INTEGER)")
    if db.execute(f"SELECT format FROM {ALIAS}.layout").fetchall() == [(FORMAT,)]:
        return
    with _transaction(db):
        for table in ("items", "parts"):
            db.execute(f"DROP TABLE IF EXISTS {ALIAS}.{table}")
        db.execute(f"DELETE FROM {ALIAS}.layout")
        db.execute(f"INSERT INTO {ALIAS}.layout VALUES ({FORMAT})")
        db.execute(
            f"CREATE TABLE {ALIAS}.items (item_key VARCHAR, reference VARCHAR, row_hash VARCHAR)"
        )
        db.execute(f"CREATE TABLE {ALIAS}.parts (id BIGINT, items BIGINT, token VARCHAR)")


def catch_up(
    db: duckdb.DuckDBPyConnection,
    repo: SnapshotRepository,
    sync_id: str,
    *,
    rebuild: bool = True,
    described: Description | None = None,
) -> tuple[SnapshotLog, int] | None:
    """Bring the copy attached to ``db`` up to the store's log of ``sync_id``: the log as
    described, and how many of its parts were read. None, the copy left as it is, when the
    store still has snapshot rows from before 0005 (which only its own read folds), or when
    the copy disagrees with the log and ``rebuild`` is off. ``described``: the log's
    description, when just read."""
    infos, legacy = described if described is not None else repo.describe(sync_id)
    if legacy:
        return None
    have: list[Taken] = [
        (int(i), int(n), t)
        for i, n, t in db.execute(
            f"SELECT id, items, token FROM {ALIAS}.parts ORDER BY id"
        ).fetchall()
    ]
    through = have[-1][0] if have else 0
    newer = [p for p in infos if p.id > through]
    agrees = [(p.id, p.items, p.token) for p in infos if p.id <= through] == have
    # A part of the base newer than what the copy took in is a fold the copy did not see
    # (an empty copy takes a first load's base parts as they come).
    again = not agrees or (bool(have) and any(p.base for p in newer))
    if again and not rebuild:
        return None
    if again:
        newer = list(infos)
    with contextlib.closing(repo.read_parts(sync_id, [p.id for p in newer])) as parts:
        read = _apply(db, parts, newer, again=again, bases_first=again or not have)
    return SnapshotLog.described(infos), read


def _apply(
    db: duckdb.DuckDBPyConnection,
    parts: Iterable[tuple[int, pa.Table]],
    expected: list[PartInfo],
    *,
    again: bool,
    bases_first: bool,
) -> int:
    """Take ``parts`` (those described as ``expected``) into the copy, in one transaction:
    the leading parts of the base straight (into a copy built again, or empty), then the
    newest naming each item among the others. Nothing changes when a part is missing or
    differs from its description (the log moved on meanwhile): the copy stays as it was
    and the error says so. Returns the number of parts read."""
    read: list[Taken] = []
    newer: list[tuple[int, pa.Table]] = []
    #: Parts of the base not inserted yet: inserted in groups (each insert costs the same
    #: few milliseconds whatever its size).
    held: list[pa.Table] = []
    bases = bases_first
    with _transaction(db):
        if again:
            db.execute(f"DELETE FROM {ALIAS}.items")
            db.execute(f"DELETE FROM {ALIAS}.parts")
        for (number, table), info in zip(parts, expected):
            if number != info.id or table.num_rows != info.items:
                raise duckdb.Error(f"the snapshot's part {info.id} is not as described")
            read.append((number, table.num_rows, info.token))
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
            db.executemany(f"INSERT INTO {ALIAS}.parts VALUES (?, ?, ?)", [list(r) for r in read])
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
    with _transaction(db):
        db.execute(f"DELETE FROM {ALIAS}.parts")
        db.executemany(
            f"INSERT INTO {ALIAS}.parts VALUES (?, ?, ?)", [[p.id, p.items, p.token] for p in parts]
        )


def refresh(path: Path, repo: SnapshotRepository, sync_id: str, *, memory_limit: str) -> None:
    """Take the parts recorded since into the copy at ``path`` (after a run delivered), so
    that the sync's next run here reads none of them. A copy the log disagrees with is left
    for the next run to build again; a failure leaves the copy behind, and the next run
    catches it up or builds it again."""
    try:
        want, described = wanted(path, repo, sync_id)
        if not want:
            return
    except Exception as exc:
        logger.warning("the snapshot's copy %s was not brought up to date: %s", path.name, exc)
        return
    db = duckdb.connect()
    try:
        db.execute(f"SET memory_limit = '{memory_limit}'")
        db.execute("SET preserve_insertion_order = false")
        db.execute(f"SET temp_directory = '{_literal(path.with_suffix('.tmp'))}'")
        if attach(db, path):
            catch_up(db, repo, sync_id, rebuild=False, described=described)
    except Exception as exc:  # the copy is a convenience: the run's outcome does not depend on it
        logger.warning("the snapshot's copy %s was not brought up to date: %s", path.name, exc)
    finally:
        db.close()
