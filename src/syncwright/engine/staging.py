"""A run's working area in DuckDB: the model's rows keyed and hashed, the snapshot of what was
delivered before, and the change set between them. Rows arrive as Arrow batches and are never
turned into Python objects here; DuckDB spills to disk, so memory stays bounded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pyarrow as pa

from syncwright.domain.errors import ModelError
from syncwright.domain.statuses import Operation, WriteMode
from syncwright.sdk.changes import Column


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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


class Staging:
    def __init__(
        self,
        path: Path,
        *,
        primary_key: tuple[str, ...],
        reference: str | None = None,
        cursor: str | None = None,
        memory_limit: str = "1GB",
    ) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (path, path.with_name(path.name + ".wal")):
            stale.unlink(missing_ok=True)
        self.db = duckdb.connect(str(path))
        self.db.execute(f"SET memory_limit = '{memory_limit}'")
        self.db.execute("SET preserve_insertion_order = false")
        self.db.execute(f"SET temp_directory = '{path.parent / (path.stem + '.tmp')}'")
        self.primary_key = primary_key
        self.reference = reference
        self.cursor = cursor
        self.columns: dict[str, str] = {}
        self.max_cursor: Any = None
        self.db.execute(
            "CREATE TABLE cur (item_key VARCHAR, source_id VARCHAR, reference VARCHAR,"
            " row_hash VARCHAR, payload VARCHAR, key_null BOOLEAN)"
        )
        self.db.execute("CREATE TABLE prev (item_key VARCHAR, reference VARCHAR, row_hash VARCHAR)")

    def close(self) -> None:
        self.db.close()
        for leftover in (self.path, self.path.with_name(self.path.name + ".wal")):
            leftover.unlink(missing_ok=True)

    def _scalar(self, sql: str) -> Any:
        rows = self.db.execute(sql).fetchall()
        return rows[0][0] if rows else None

    # -- loading ----------------------------------------------------------------------------
    def add_rows(self, batch: pa.RecordBatch) -> None:
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
        pk = [f"t.{quote(k)}" for k in self.primary_key]
        key = (
            "to_json(struct_pack("
            + ", ".join(f"{quote(k)} := t.{quote(k)}" for k in self.primary_key)
            + "))"
        )
        source_id = (
            f"CAST({pk[0]} AS VARCHAR)"
            if len(pk) == 1
            else "concat_ws('/', " + ", ".join(f"CAST({p} AS VARCHAR)" for p in pk) + ")"
        )
        reference = (
            f"coalesce(CAST(t.{quote(self.reference)} AS VARCHAR), {source_id})"
            if self.reference
            else source_id
        )
        key_null = " OR ".join(f"{p} IS NULL" for p in pk)
        self.db.register("incoming", batch)
        try:
            self.db.execute(
                "INSERT INTO cur SELECT k, s, r, md5(p), p, n FROM ("
                f"SELECT {key} AS k, {source_id} AS s, {reference} AS r, to_json(t) AS p,"
                f" ({key_null}) AS n FROM incoming AS t)"
            )
            if self.cursor:
                found = self._scalar(f"SELECT to_json(max({quote(self.cursor)})) FROM incoming")
                value = json.loads(found) if found else None
                if value is not None and (self.max_cursor is None or value > self.max_cursor):
                    self.max_cursor = value
        finally:
            self.db.unregister("incoming")

    def add_snapshot(self, batch: pa.RecordBatch) -> None:
        self.db.register("snap", batch)
        try:
            self.db.execute("INSERT INTO prev SELECT item_key, reference, row_hash FROM snap")
        finally:
            self.db.unregister("snap")

    # -- checks -----------------------------------------------------------------------------
    def check_keys(self) -> None:
        """Refuse rows with an empty or repeated primary key: they cannot be tracked."""
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
    def diff(self, *, full: bool, see_removals: bool, write_mode: WriteMode) -> Diff:
        """Compare the model with the snapshot and number the deliverable changes from 0."""
        source_id_of_key = (
            f"json_extract_string(p.item_key, '$.{self.primary_key[0]}')"
            if len(self.primary_key) == 1
            else "concat_ws('/', "
            + ", ".join(f"json_extract_string(p.item_key, '$.{k}')" for k in self.primary_key)
            + ")"
        )
        changed_rows = "TRUE" if full else "p.row_hash IS DISTINCT FROM c.row_hash"
        removals = (
            f" UNION ALL SELECT p.item_key, {source_id_of_key}, p.reference, NULL, p.item_key,"
            " 'remove' FROM prev p ANTI JOIN cur c USING (item_key)"
            if see_removals
            else ""
        )
        self.db.execute(
            "CREATE OR REPLACE TABLE delta AS "
            "SELECT c.item_key, c.source_id, c.reference, c.row_hash, c.payload,"
            " CASE WHEN p.item_key IS NULL THEN 'add' ELSE 'change' END AS operation"
            " FROM cur c LEFT JOIN prev p USING (item_key)"
            f" WHERE p.item_key IS NULL OR {changed_rows}" + removals
        )
        delivered_ops = [op.value for op in Operation if write_mode.delivers(op)]
        ops_sql = ", ".join(f"'{op}'" for op in delivered_ops)
        self.db.execute(
            "CREATE OR REPLACE TABLE changes AS SELECT"
            " CAST(row_number() OVER (ORDER BY CASE operation WHEN 'add' THEN 0 WHEN 'change' THEN 1"
            " ELSE 2 END, item_key) - 1 AS INTEGER) AS seq, *"
            f" FROM delta WHERE operation IN ({ops_sql})"
        )
        counts = dict(
            self.db.execute("SELECT operation, count(*) FROM delta GROUP BY 1").fetchall()
        )
        read = self._scalar("SELECT count(*) FROM cur")
        before = self._scalar("SELECT count(*) FROM prev")
        deliverable = self._scalar("SELECT count(*) FROM changes")
        added, changed = counts.get("add", 0), counts.get("change", 0)
        return Diff(
            read=read,
            unchanged=read - added - changed,
            added=added,
            changed=changed,
            removed=counts.get("remove", 0),
            deliverable=deliverable,
            delivered_before=before,
        )

    def deliverable(self, size: int = 5000) -> Iterator[list[dict[str, Any]]]:
        reader = self.db.sql(
            "SELECT seq, item_key, source_id, reference, operation, row_hash, payload"
            " FROM changes ORDER BY seq"
        ).to_arrow_reader(size)
        for batch in reader:
            yield batch.to_pylist()

    def skipped(self) -> tuple[list[tuple[str, str, str]], list[str]]:
        """Changes the write mode does not deliver: (kept as delivered, forgotten)."""
        kept = self.db.execute(
            "SELECT item_key, reference, row_hash FROM delta WHERE operation <> 'remove'"
            " AND item_key NOT IN (SELECT item_key FROM changes)"
        ).fetchall()
        forgotten = self.db.execute(
            "SELECT item_key FROM delta WHERE operation = 'remove'"
            " AND item_key NOT IN (SELECT item_key FROM changes)"
        ).fetchall()
        return [tuple(r) for r in kept], [r[0] for r in forgotten]  # type: ignore[misc]
