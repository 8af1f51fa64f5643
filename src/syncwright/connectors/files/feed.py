"""File feeds: each run writes one file (CSV, JSON Lines or Parquet, optionally gzip) of the
whole model or of its changes, and switches a constant "latest" file to it atomically.

Batches are staged as Parquet parts named by batch number, so a replayed batch replaces its
own part; ``publish`` writes the file under a temporary name, renames it into place, then
points ``<name>-latest.<ext>`` at it with an atomic rename. A reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field, ValidationInfo, field_validator

from syncwright.connectors.files.formats import CONTENT_TYPES, FileFormat, absolute, sql_string
from syncwright.domain.errors import DestinationError
from syncwright.domain.statuses import Operation
from syncwright.sdk import (
    BatchResult,
    Capabilities,
    ChangeBatch,
    ConnectorConfig,
    Destination,
    LocalPath,
    Publication,
    RunInfo,
)
from syncwright.sdk.changes import Column

OPERATION_COLUMN = "_operation"


class FeedSettings(ConnectorConfig):
    """What goes into the file and how it is written."""

    #: The start of every file name: ``<name>-<run time>-<run>.<ext>`` and ``<name>-latest.<ext>``.
    name: str = Field(default="feed", pattern=r"^[A-Za-z0-9._-]+$")
    format: FileFormat = "csv"
    gzip: bool = Field(default=False, validate_default=True)
    #: ``full``: every run writes the whole model; ``changes``: only what was added, changed or
    #: removed, with an ``_operation`` column.
    contents: Literal["full", "changes"] = "full"
    #: How many run files to keep (the newest); all when left out.
    keep: int | None = Field(default=None, ge=1)

    @field_validator("gzip")
    @classmethod
    def _gzip_text_only(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("format") == "parquet":
            raise ValueError("gzip applies to csv and jsonl; parquet is compressed inside")
        return value

    @property
    def extension(self) -> str:
        return self.format + (".gz" if self.gzip else "")

    @property
    def content_type(self) -> str:
        return "application/gzip" if self.gzip else CONTENT_TYPES[self.format]


class FileFeedConfig(FeedSettings):
    #: The folder the run files and the latest file are written to.
    directory: LocalPath = Field(min_length=1)

    def resolved(self, base_dir: Path) -> FileFeedConfig:
        return self.model_copy(update={"directory": absolute(self.directory, base_dir)})


def _arrow_type(name: str) -> pa.DataType | None:
    try:
        return pa.type_for_alias(name)
    except (ValueError, KeyError):
        return None


def _array(values: list[Any], type_name: str) -> pa.Array:
    wanted = _arrow_type(type_name)
    try:
        return pa.array(values, type=wanted) if wanted else pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _table(columns: tuple[Column, ...], rows: list[dict[str, Any]], changes: bool) -> pa.Table:
    arrays, names = [], []
    if changes:
        arrays.append(pa.array([r.get(OPERATION_COLUMN) for r in rows], type=pa.string()))
        names.append(OPERATION_COLUMN)
    for column in columns:
        arrays.append(_array([r.get(column.name) for r in rows], column.type))
        names.append(column.name)
    return pa.Table.from_arrays(arrays, names=names)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


class FeedWriter:
    """Stages a run's batches and writes its file into ``directory``."""

    def __init__(self, settings: FeedSettings, directory: Path) -> None:
        self.settings = settings
        self.directory = directory

    def parts(self, run_id: str) -> Path:
        return self.directory / ".parts" / run_id

    def stage(self, batch: ChangeBatch) -> None:
        try:
            self._stage(batch)
        except OSError as exc:
            raise DestinationError(f"cannot stage the batch in {self.directory}: {exc}") from exc

    def publish(self, run: RunInfo) -> tuple[Path, int]:
        """Write the run's file, switch the latest file to it, drop files beyond ``keep``."""
        try:
            final, rows = self.write(run)
            self.switch_latest(final)
            self.prune()
        except (OSError, duckdb.Error) as exc:
            raise DestinationError(f"cannot write the file in {self.directory}: {exc}") from exc
        return final, rows

    def _stage(self, batch: ChangeBatch) -> None:
        table = self._arrow(batch) if batch.columnar else self._rows(batch)
        folder = self.parts(batch.run_id)
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".part-{batch.index:08d}.tmp"
        pq.write_table(table, temporary)
        os.replace(temporary, folder / f"part-{batch.index:08d}.parquet")

    def _arrow(self, batch: ChangeBatch) -> pa.Table:
        """The part from the batch's Arrow table as it is (no Python per row): in a file of
        changes each row with its operation; in a whole-model file the rows that are not
        removed, then the unchanged rows."""
        names = [c.name for c in batch.columns if c.name in batch.table.column_names]
        rows = batch.table.select(names or batch.table.column_names)
        if self.settings.contents == "changes":
            return rows.add_column(0, OPERATION_COLUMN, batch.operations)
        rows = rows.filter(pc.not_equal(batch.operations, Operation.REMOVE.value))
        unchanged = batch.unchanged_table
        if unchanged.num_rows:
            rows = pa.concat_tables(
                [rows, unchanged.select(rows.column_names)], promote_options="permissive"
            )
        return rows

    def _rows(self, batch: ChangeBatch) -> pa.Table:
        changes = self.settings.contents == "changes"
        rows = []
        for change in batch.changes:
            if change.operation is Operation.REMOVE and not changes:
                continue  # a whole-model file simply no longer holds it
            row = {**change.key, **(change.fields or {})}
            if changes:
                row[OPERATION_COLUMN] = change.operation.value
            rows.append(row)
        if not changes:
            rows.extend(batch.unchanged)  # the rest of the whole model
        return _table(batch.columns, rows, changes)

    def file_for(self, run: RunInfo) -> Path:
        stamp = run.started_at.strftime("%Y%m%dT%H%M%SZ")
        return (
            self.directory
            / f"{self.settings.name}-{stamp}-{run.run_id[:8]}.{self.settings.extension}"
        )

    @property
    def latest(self) -> Path:
        return self.directory / f"{self.settings.name}-latest.{self.settings.extension}"

    def write(self, run: RunInfo) -> tuple[Path, int]:
        """Write the run's file (again, if a crash came before it was published) and return it
        with its row count."""
        final = self.file_for(run)
        folder = self.parts(run.run_id)
        parts = sorted(folder.glob("part-*.parquet")) if folder.exists() else []
        self.directory.mkdir(parents=True, exist_ok=True)
        db = duckdb.connect()
        try:
            if not parts and final.exists():  # published before a restart: keep it
                return final, self._count(db, final)
            temporary = self.directory / f".{final.name}.tmp"
            if parts:
                listed = "[" + ", ".join(sql_string(str(p)) for p in parts) + "]"
                select = (
                    "SELECT * EXCLUDE (filename, file_row_number) FROM read_parquet("
                    f"{listed}, union_by_name = true, filename = true, file_row_number = true)"
                    " ORDER BY filename, file_row_number"
                )
            else:
                empty = _table(run.columns, [], self.settings.contents == "changes")
                db.register("empty_rows", empty)
                select = "SELECT * FROM empty_rows"
            db.execute(f"COPY ({select}) TO {sql_string(str(temporary))} ({self._options()})")
            with temporary.open("rb+") as f:
                os.fsync(f.fileno())
            os.replace(temporary, final)
            rows = self._count(db, final)
        finally:
            db.close()
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            folder.parent.rmdir()  # only when no other run is staging
        return final, rows

    def _options(self) -> str:
        fmt = self.settings.format
        options = {
            "csv": "FORMAT csv, HEADER true",
            "jsonl": "FORMAT json",
            "parquet": "FORMAT parquet",
        }[fmt]
        return options + (", COMPRESSION gzip" if self.settings.gzip else "")

    def _count(self, db: duckdb.DuckDBPyConnection, path: Path) -> int:
        source = {
            "csv": "read_csv({}, header = true)",
            "jsonl": "read_json({}, format = 'newline_delimited')",
            "parquet": "read_parquet({})",
        }[self.settings.format].format(sql_string(str(path)))
        if path.stat().st_size == 0:
            return 0
        found = db.execute(f"SELECT count(*) FROM {source}").fetchall()
        return int(found[0][0])

    def switch_latest(self, final: Path) -> None:
        """Point the latest file at ``final`` in one rename: readers see the old or the new."""
        temporary = self.directory / f".{self.latest.name}.tmp"
        temporary.unlink(missing_ok=True)
        try:
            os.link(final, temporary)
        except OSError:
            shutil.copyfile(final, temporary)
        os.replace(temporary, self.latest)

    def prune(self) -> None:
        keep = self.settings.keep
        if keep is None:
            return
        pattern = f"{self.settings.name}-*.{self.settings.extension}"
        runs = sorted(p for p in self.directory.glob(pattern) if p != self.latest)
        for old in runs[:-keep]:
            old.unlink(missing_ok=True)


class StagedFileDestination(Destination):
    """A destination that stages each batch with a ``FeedWriter`` and publishes one file."""

    writer: FeedWriter

    @classmethod
    def wants_full_model(cls, config: Any) -> bool:
        return bool(config.contents == "full")

    def write(self, batch: ChangeBatch) -> BatchResult:
        self.writer.stage(batch)
        return BatchResult.sent(len(batch))

    def _publication(self, final: Path, rows: int, **more: Any) -> Publication:
        return Publication(
            location=str(final),
            latest=str(self.writer.latest),
            size=final.stat().st_size,
            checksum=sha256(final),
            rows=rows,
            content_type=self.writer.settings.content_type,
            **more,
        )


class FileFeed(StagedFileDestination):
    type = "file_feed"
    config_class = FileFeedConfig
    supports = Capabilities(incremental=True, full=True, deletes=True, file_output=True)
    config: FileFeedConfig

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.writer = FeedWriter(self.config, Path(self.config.directory))

    def check(self) -> None:
        directory = Path(self.config.directory)
        directory.mkdir(parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK):
            raise DestinationError(f"cannot write to {directory}")

    def publish(self, run: RunInfo) -> Publication:
        return self._publication(*self.writer.publish(run))
