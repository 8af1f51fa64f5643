"""A run's working area in DuckDB: the model's rows keyed and hashed, the snapshot of what was
delivered before, and the change set between them. Rows arrive as Arrow batches and are never
turned into Python objects here; DuckDB spills to disk, so memory stays bounded."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pyarrow as pa

from syncwright.domain.counters import Counters
from syncwright.domain.errors import ModelError
from syncwright.domain.statuses import Operation, WriteMode
from syncwright.engine import snapshot_cache
from syncwright.sdk.changes import Column
from syncwright.storage.changesets_repo import UNCHANGED
from syncwright.storage.snapshots_repo import PART_SCHEMA, PartInfo, SnapshotLog, SnapshotRepository

#: The model's rows are staged in groups this large: DuckDB spreads a large insert over its
#: threads, and keying, hashing and staging 1M rows took 0.9 s in groups of 250k rows
#: against 3.3 s batch by batch (10k rows each). A group of wide rows stops at the bytes.
STAGE_ROWS = 250_000
STAGE_BYTES = 64 * 1024 * 1024

#: What DuckDB may hold in memory before it spills to disk.
MEMORY_LIMIT = "256MB"

#: DuckDB's name for the type of a column whose values were all empty.
UNTYPED = '"NULL"'


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _alias(names: list[str]) -> str:
    """A name for the incoming row that no column has (a column named like the alias would
    stand for the row in ``to_json``; DuckDB's names ignore case)."""
    taken = {n.lower() for n in names}
    alias = "t"
    while alias in taken:
        alias += "_"
    return alias


@dataclass(frozen=True, kw_only=True)
class Diff:
    """What the comparison found; ``deliverable`` are the changes the write mode applies."""

    read: int
    unchanged: int
    added: int
    changed: int
    removed: int
    deliverable: int
    delivered_before: int

    @property
    def skipped(self) -> int:
        return self.added + self.changed + self.removed - self.deliverable

    def counters(self, *, pending: int = 0) -> Counters:
        """The counters a run starts delivering with."""
        return Counters(
            read=self.read,
            unchanged=self.unchanged,
            added=self.added,
            changed=self.changed,
            removed=self.removed,
            skipped=self.skipped,
            pending=pending,
        )


class Staging:
    def __init__(
        self,
        path: Path,
        *,
        primary_key: tuple[str, ...],
        reference: str | None = None,
        cursor: str | None = None,
        memory_limit: str = MEMORY_LIMIT,
    ) -> None:
        self.path = path
        self.memory_limit = memory_limit
        self.db = self._open()
        self.primary_key = primary_key
        self.reference = reference
        self.cursor = cursor
        self.columns: dict[str, str] = {}
        self._sql_types: dict[str, str] | None = {}
        self._max_cursor: Any = None
        #: Batches of rows received and not staged yet.
        self._held: list[pa.RecordBatch] = []
        self._held_rows = 0
        self._held_bytes = 0
        #: The model's rows as its source counted them, when that count showed that no item
        #: was removed (its keys were not read).
        self.rows_counted: int | None = None
        self.keys_read = False
        self.delivered_ops: list[str] = []
        self.carries_unchanged = False
        #: The snapshot is the worker's copy (see ``use_copy``), not loaded here.
        self.on_copy = False
        #: How the snapshot was read: from the copy or not, and how many parts of the log.
        self.snapshot_read: dict[str, Any] = {}

    def _open(self) -> duckdb.DuckDBPyConnection:
        """A new working area (any left by an earlier one removed), with its empty tables."""
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (path, path.with_name(path.name + ".wal")):
            stale.unlink(missing_ok=True)
        db = duckdb.connect(str(path))
        db.execute(f"SET memory_limit = '{self.memory_limit}'")
        db.execute("SET preserve_insertion_order = false")
        db.execute(f"SET temp_directory = '{path.parent / (path.stem + '.tmp')}'")
        db.execute(
            "CREATE TEMP TABLE cur (item_key VARCHAR, source_id VARCHAR, reference VARCHAR,"
            " row_hash VARCHAR, payload VARCHAR, key_null BOOLEAN)"
        )
        db.execute("CREATE TEMP TABLE prev (item_key VARCHAR, reference VARCHAR, row_hash VARCHAR)")
        # Earlier entries the changes link to: open failures, or the entries a resync selected.
        db.execute("CREATE TEMP TABLE links (item_key VARCHAR, reference VARCHAR, entry_id BIGINT)")
        return db

    def close(self) -> None:
        self.db.close()
        for leftover in (self.path, self.path.with_name(self.path.name + ".wal")):
            leftover.unlink(missing_ok=True)

    def _scalar(self, sql: str) -> Any:
        rows = self.db.execute(sql).fetchall()
        return rows[0][0] if rows else None

    # -- loading ----------------------------------------------------------------------------
    @property
    def sql_types(self) -> dict[str, str] | None:
        """The columns' DuckDB types, which the change set's payloads are cast back to for
        delivery; None once a column's type differed between two batches of the model (its
        payloads then hold values of both, and are decoded each as it is)."""
        self.flush()
        return self._sql_types

    @property
    def max_cursor(self) -> Any:
        """The newest cursor value of the rows staged."""
        self.flush()
        return self._max_cursor

    def add_rows(self, batch: pa.RecordBatch) -> None:
        """Take a batch of the model's rows. Consecutive batches of one schema are staged
        together once they hold ``STAGE_ROWS`` rows (or ``STAGE_BYTES``), or when anything
        reads what is staged."""
        if batch.num_rows == 0 and self.columns:
            return
        names = batch.schema.names
        for needed in (*self.primary_key, *filter(None, [self.reference, self.cursor])):
            if needed not in names:
                raise ModelError(f"the model has no column {needed!r} (it has: {', '.join(names)})")
        for field in batch.schema:
            if self.columns.get(field.name) in (None, "null"):
                self.columns[field.name] = str(field.type)
        if batch.num_rows == 0:
            return
        if self._held and not self._held[0].schema.equals(batch.schema):
            self.flush()
        self._held.append(batch)
        self._held_rows += batch.num_rows
        self._held_bytes += batch.nbytes
        if self._held_rows >= STAGE_ROWS or self._held_bytes >= STAGE_BYTES:
            self.flush()

    def flush(self) -> None:
        """Key, hash and stage the rows held, in one statement (done before anything here
        reads the staged rows)."""
        if not self._held:
            return
        incoming = pa.Table.from_batches(self._held)
        self._held, self._held_rows, self._held_bytes = [], 0, 0
        t = _alias(incoming.schema.names)
        pk = [f"{t}.{quote(k)}" for k in self.primary_key]
        key = self._key_sql(t)
        source_id = (
            f"CAST({pk[0]} AS VARCHAR)"
            if len(pk) == 1
            else "concat_ws('/', " + ", ".join(f"CAST({p} AS VARCHAR)" for p in pk) + ")"
        )
        reference = (
            f"coalesce(CAST({t}.{quote(self.reference)} AS VARCHAR), {source_id})"
            if self.reference
            else source_id
        )
        key_null = " OR ".join(f"{p} IS NULL" for p in pk)
        self.db.register("incoming", incoming)
        try:
            self._note_types()
            self.db.execute(
                "INSERT INTO cur SELECT k, s, r, md5(p), p, n FROM ("
                f"SELECT {key} AS k, {source_id} AS s, {reference} AS r, to_json({t}) AS p,"
                f" ({key_null}) AS n FROM incoming AS {t})"
            )
            if self.cursor:
                found = self._scalar(f"SELECT to_json(max({quote(self.cursor)})) FROM incoming")
                value = json.loads(found) if found else None
                if value is not None and (self._max_cursor is None or value > self._max_cursor):
                    self._max_cursor = value
        finally:
            self.db.unregister("incoming")

    def _note_types(self) -> None:
        """The DuckDB types of the columns; none kept once two batches differ in a column's
        type or in their columns (a payload lacking a column then means that the model left
        it unset, not null)."""
        if self._sql_types is None:
            return
        described = self.db.execute("DESCRIBE SELECT * FROM incoming").fetchall()
        if self._sql_types and {d[0] for d in described} != set(self._sql_types):
            self._sql_types = None
            return
        for name, kind, *_ in described:
            known = self._sql_types.get(name)
            if known in (None, UNTYPED):
                self._sql_types[name] = kind
            elif kind not in (known, UNTYPED):
                self._sql_types = None
                return

    def forget_rows(self) -> None:
        """Drop the rows received so far (the source reads them again)."""
        self._held, self._held_rows, self._held_bytes = [], 0, 0
        self.db.execute("DELETE FROM cur")
        self.columns = {}
        self._sql_types = {}
        self._max_cursor = None

    def forget_keys(self) -> None:
        if self.keys_read:
            self.db.execute("DELETE FROM keys")

    def _key_sql(self, t: str) -> str:
        """An item's key: its primary key values as JSON (the same for rows and keys), from
        the row of alias ``t``."""
        return (
            "to_json(struct_pack("
            + ", ".join(f"{quote(k)} := {t}.{quote(k)}" for k in self.primary_key)
            + "))"
        )

    def add_keys(self, batch: pa.RecordBatch) -> None:
        """Keys of every row of the model (a cursor sync reads its changed rows only): what
        is in the snapshot and not here was removed."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS keys (item_key VARCHAR)")
        self.keys_read = True
        if batch.num_rows == 0:
            return
        self.db.register("incoming", batch)
        try:
            t = _alias(batch.schema.names)
            self.db.execute(f"INSERT INTO keys SELECT {self._key_sql(t)} FROM incoming AS {t}")
        finally:
            self.db.unregister("incoming")

    def keys_count(self) -> int:
        return int(self._scalar("SELECT count(*) FROM keys")) if self.keys_read else 0

    def none_removed(self, counted: int) -> bool:
        """Whether a model of ``counted`` rows still holds every item of the snapshot
        (loaded first), knowing its rows staged so far (those past a cursor) and the sync's
        open failures (linked first: an item whose addition failed is in the model, not in
        the snapshot): it does when it counts the snapshot's items plus the staged and
        failing items new to it. Exact for a model whose keys are unique and whose new rows
        all come past the cursor, which is what a cursor sync relies on (a source counts
        nothing, giving None, when a cursor value is empty); any other count means reading
        the keys."""
        self.flush()
        known = self._scalar("SELECT count(*) FROM prev")
        new = self._scalar(
            "SELECT count(*) FROM (SELECT item_key FROM cur UNION SELECT item_key FROM links)"
            " ANTI JOIN prev USING (item_key)"
        )
        if counted != int(known) + int(new):
            return False
        self.rows_counted = counted
        return True

    def load_snapshot(self, log: SnapshotLog) -> None:
        """What was delivered before: the newest part naming each item says what it was
        delivered as (or that it was removed). The base's items are taken as they are, but
        for those a newer part names; of the newer parts, the newest naming each item. The
        parts are read in place (Arrow) and copied once into the working area."""
        if not log.parts:
            return
        base = pa.Table.from_batches(list(log.base()), schema=PART_SCHEMA)
        newer = list(log.batches())
        self.db.register("base", base)
        try:
            if not newer:
                self.db.execute(
                    "INSERT INTO prev SELECT item_key, reference, row_hash FROM base"
                    " WHERE NOT removed"
                )
                return
            self.db.register("log", pa.Table.from_batches(newer))
            self.db.execute(
                "CREATE OR REPLACE TEMP TABLE newest AS SELECT item_key, reference, row_hash,"
                " removed FROM (SELECT *, row_number() OVER (PARTITION BY item_key"
                " ORDER BY part DESC) AS n FROM log) WHERE n = 1"
            )
            self.db.execute(
                "INSERT INTO prev SELECT item_key, reference, row_hash FROM base"
                " ANTI JOIN newest USING (item_key) WHERE NOT base.removed"
                " UNION ALL SELECT item_key, reference, row_hash FROM newest WHERE NOT removed"
            )
            self.db.execute("DROP TABLE newest")
            self.db.unregister("log")
        finally:
            self.db.unregister("base")

    def use_copy(
        self,
        path: Path,
        repo: SnapshotRepository,
        sync_id: str,
        *,
        described: snapshot_cache.Description | None = None,
    ) -> tuple[SnapshotLog, int] | None:
        """Compare with the worker's copy of the snapshot at ``path``, brought up to the
        store's log first (see ``snapshot_cache``), instead of loading the log: the log as
        described, and how many of its parts were read. None when there is no usable copy
        (then ``load_snapshot``); called before anything is staged. ``described``: the
        log's description, when just read. Whatever goes wrong
        with the copy leaves this working area as it was (made anew if need be)."""
        try:
            if not snapshot_cache.attach(self.db, path):
                return None
            caught = snapshot_cache.catch_up(self.db, repo, sync_id, described=described)
            if caught is not None:
                self.db.execute("DROP TABLE prev")
                self.db.execute(
                    "CREATE TEMP VIEW prev AS SELECT item_key, reference, row_hash"
                    f" FROM {snapshot_cache.ALIAS}.items"
                )
                self.on_copy = True
                return caught
        except Exception as exc:  # the copy only makes a run faster: never fail one for it
            snapshot_cache.logger.warning(
                "the snapshot's copy %s could not be used: %s", path.name, exc
            )
        self._without_copy()
        return None

    def _without_copy(self) -> None:
        """Let go of the copy, and make the working area anew if the copy left it broken."""
        try:
            snapshot_cache.detach(self.db)
            self.db.execute("SELECT count(*) FROM prev").fetchall()
        except Exception:
            with contextlib.suppress(Exception):
                self.db.close()
            self.db = self._open()

    def folded(self, parts: list[PartInfo]) -> None:
        """The store's log was folded from the snapshot compared with: a copy it came
        from stands for the new parts."""
        if not self.on_copy:
            return
        try:
            snapshot_cache.refolded(self.db, parts)
        except Exception as exc:  # the copy no longer agrees: the next run builds it again
            snapshot_cache.logger.warning("the snapshot's copy was not refolded: %s", exc)

    def snapshot_batches(self, size: int = 100_000) -> Iterator[pa.RecordBatch]:
        """The snapshot as loaded, to fold the log into one base."""
        yield from self.db.sql("SELECT item_key, reference, row_hash FROM prev").to_arrow_reader(
            size
        )

    def add_links(self, batch: pa.RecordBatch) -> None:
        """Earlier entries of items, as (item_key, reference, entry_id)."""
        self.db.register("lnk", batch)
        try:
            self.db.execute("INSERT INTO links SELECT item_key, reference, entry_id FROM lnk")
        finally:
            self.db.unregister("lnk")

    # -- checks -----------------------------------------------------------------------------
    def check_keys(self) -> None:
        """Refuse rows with an empty or repeated primary key: they cannot be tracked."""
        self.flush()
        nulls = self._scalar("SELECT count(*) FROM cur WHERE key_null")
        if nulls:
            raise ModelError(
                f"{nulls} rows have an empty primary key ({', '.join(self.primary_key)})"
            )
        dups = self.db.execute(
            "SELECT source_id, count(*) FROM cur GROUP BY item_key, source_id HAVING count(*) > 1"
            " ORDER BY 2 DESC, 1 LIMIT 5"
        ).fetchall()
        if dups:
            total = self._scalar(
                "SELECT count(*) FROM (SELECT item_key FROM cur GROUP BY 1 HAVING count(*) > 1)"
            )
            sample = ", ".join(f"{k} ({n} rows)" for k, n in dups)
            raise ModelError(f"{total} primary keys are repeated, e.g. {sample}")

    def model_columns(self) -> tuple[Column, ...]:
        return tuple(Column(name=n, type=t) for n, t in self.columns.items())

    # -- diff -------------------------------------------------------------------------------
    def _source_id_of_key(self, alias: str) -> str:
        if len(self.primary_key) == 1:
            return f"json_extract_string({alias}.item_key, '$.{self.primary_key[0]}')"
        return (
            "concat_ws('/', "
            + ", ".join(f"json_extract_string({alias}.item_key, '$.{k}')" for k in self.primary_key)
            + ")"
        )

    def diff(
        self,
        *,
        full: bool,
        see_removals: bool,
        write_mode: WriteMode,
        carry_unchanged: bool = False,
    ) -> Diff:
        """Compare the model with the snapshot (``deliverable_batches`` then numbers the
        changes the write mode delivers). ``full``: every row goes again, as a change;
        ``carry_unchanged``: the rows that are no change the write mode delivers follow the
        changes, for a destination that takes the whole model each run."""
        self.flush()
        changed_rows = "TRUE" if full else "p.row_hash IS DISTINCT FROM c.row_hash"
        present = "keys" if self.keys_read else "cur"
        removals = (
            f" UNION ALL SELECT p.item_key, {self._source_id_of_key('p')}, p.reference, NULL,"
            f" p.item_key, 'remove' FROM prev p ANTI JOIN {present} c USING (item_key)"
            if see_removals or self.keys_read
            else ""
        )
        self.db.execute(
            "CREATE OR REPLACE TEMP TABLE delta AS "
            "SELECT c.item_key, c.source_id, c.reference, c.row_hash, c.payload,"
            # An item in doubt (its hash unknown: a delivery the store failed to record)
            # goes again as an addition.
            " CASE WHEN p.item_key IS NULL OR p.row_hash = '' THEN 'add' ELSE 'change' END"
            " AS operation FROM cur c LEFT JOIN prev p USING (item_key)"
            f" WHERE p.item_key IS NULL OR {changed_rows}" + removals
        )
        diff = self._number(write_mode)
        self.carries_unchanged = carry_unchanged
        if carry_unchanged:
            self.db.execute(
                "CREATE OR REPLACE TEMP VIEW carried AS SELECT c.* FROM cur c ANTI JOIN ("
                " SELECT item_key FROM delta WHERE operation IN ("
                + ", ".join(f"'{op}'" for op in self.delivered_ops)
                + ")) USING (item_key)"
            )
        return diff

    def diff_selected(self, *, write_mode: WriteMode) -> Diff:
        """A resync: the selected items (the links) as the model has them now, or their removal
        when the model no longer has them. ``read`` counts the selected items found."""
        self.flush()
        self.db.execute(
            "CREATE OR REPLACE TEMP TABLE delta AS "
            f"SELECT l.item_key, coalesce(c.source_id, {self._source_id_of_key('l')}) AS source_id,"
            " coalesce(c.reference, p.reference, l.reference) AS reference, c.row_hash,"
            " coalesce(c.payload, l.item_key) AS payload,"
            " CASE WHEN c.item_key IS NULL THEN 'remove' WHEN p.item_key IS NULL THEN 'add'"
            " ELSE 'change' END AS operation"
            " FROM links l LEFT JOIN cur c USING (item_key) LEFT JOIN prev p USING (item_key)"
        )
        diff = self._number(write_mode)
        return dataclasses.replace(diff, read=diff.added + diff.changed, unchanged=0)

    def _number(self, write_mode: WriteMode) -> Diff:
        self.delivered_ops = [op.value for op in Operation if write_mode.delivers(op)]
        counts = dict(
            self.db.execute("SELECT operation, count(*) FROM delta GROUP BY 1").fetchall()
        )
        read = self._scalar("SELECT count(*) FROM cur")
        before = self._scalar("SELECT count(*) FROM prev")
        added, changed = counts.get("add", 0), counts.get("change", 0)
        return Diff(
            read=read,
            unchanged=read - added - changed,
            added=added,
            changed=changed,
            removed=counts.get("remove", 0),
            deliverable=sum(counts.get(op, 0) for op in self.delivered_ops),
            delivered_before=before,
        )

    def deliverable_batches(self, size: int = 20_000) -> Iterator[pa.RecordBatch]:
        """The changes to deliver as Arrow batches of entry columns, numbered from 0 as they
        stream: additions, then changes, then removals, then the unchanged rows carried
        along (operation ``unchanged``, when the diff carries them). Nothing is sorted, so
        memory stays bounded by the batch whatever the size of the change set."""
        queries = [
            "SELECT d.item_key, d.source_id, d.reference, d.operation, d.row_hash,"
            " d.payload, l.entry_id AS retry_of"
            f" FROM delta d LEFT JOIN links l USING (item_key) WHERE d.operation = '{op}'"
            for op in ("add", "change", "remove")
            if op in self.delivered_ops
        ]
        if self.carries_unchanged:
            queries.append(
                f"SELECT item_key, source_id, reference, '{UNCHANGED}' AS operation, row_hash,"
                " payload, CAST(NULL AS BIGINT) AS retry_of FROM carried"
            )
        seq = 0
        for query in queries:
            reader = self.db.sql(query).to_arrow_reader(size)
            for batch in reader:
                if not batch.num_rows:
                    continue
                numbers = pa.array(range(seq, seq + batch.num_rows), pa.int32())
                seq += batch.num_rows
                yield pa.RecordBatch.from_arrays(
                    [numbers, *batch.columns], names=["seq", *batch.schema.names]
                )

    def sample(self, per_operation: int) -> list[dict[str, Any]]:
        """Up to ``per_operation`` changes the write mode delivers of each operation, by key:
        operation, key, reference and the item's fields (none for a removal)."""
        if not self.delivered_ops:
            return []
        rows = self.db.execute(
            "SELECT operation, item_key, reference, payload FROM ("
            " SELECT *, row_number() OVER (PARTITION BY operation ORDER BY item_key) AS n"
            " FROM delta WHERE operation IN ("
            + ", ".join(f"'{op}'" for op in self.delivered_ops)
            + ")) WHERE n <= ? ORDER BY operation, item_key",
            [per_operation],
        ).fetchall()
        return [
            {
                "operation": operation,
                "key": json.loads(key),
                "reference": reference,
                "fields": json.loads(payload) if operation != "remove" else None,
            }
            for operation, key, reference, payload in rows
        ]

    def deliverable(self, size: int = 5000) -> Iterator[list[dict[str, Any]]]:
        for batch in self.deliverable_batches(size):
            yield batch.to_pylist()

    def skipped(self) -> tuple[list[tuple[str, str, str]], list[str]]:
        """Changes the write mode does not deliver: (kept as delivered, forgotten)."""
        unsent = [op for op in ("add", "change") if op not in self.delivered_ops]
        kept = (
            self.db.execute(
                "SELECT item_key, reference, row_hash FROM delta WHERE operation IN ("
                + ", ".join(f"'{op}'" for op in unsent)
                + ")"
            ).fetchall()
            if unsent
            else []
        )
        forgotten = (
            self.db.execute("SELECT item_key FROM delta WHERE operation = 'remove'").fetchall()
            if "remove" not in self.delivered_ops
            else []
        )
        return [tuple(r) for r in kept], [r[0] for r in forgotten]
