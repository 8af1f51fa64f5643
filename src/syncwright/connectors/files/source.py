"""Reads CSV, JSON Lines or Parquet files (a path, a folder or a glob) with DuckDB.

The model's query, when given, is SQL over a view named ``source`` holding every row of every
matching file; without one the model is all of it.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pyarrow as pa
from pydantic import Field, ValidationInfo, field_validator

from syncwright.connectors.files.formats import FileFormat, absolute, infer_format, sql_string
from syncwright.domain.errors import SourceError
from syncwright.sdk import Capabilities, ConnectorConfig, LocalPath, ReadRequest, Source
from syncwright.sdk.confinement import sandboxed_duckdb


class FileSourceConfig(ConnectorConfig):
    #: A file, a folder (every file of the format in it) or a glob such as ``exports/*.csv``.
    path: LocalPath = Field(min_length=1)
    #: ``csv``, ``jsonl`` or ``parquet``; inferred from the extension when left out.
    format: FileFormat | None = Field(default=None, validate_default=True)
    #: CSV only: the field separator, whether the first line names the columns, the encoding,
    #: and whether to keep every value as text instead of detecting types.
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header: bool = True
    encoding: str = "utf-8"
    all_text: bool = False

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: FileFormat | None, info: ValidationInfo) -> FileFormat | None:
        path = info.data.get("path")
        if value is None and path and infer_format(path) is None:
            raise ValueError(
                f"cannot tell the format of {path!r} from its extension; set it to csv,"
                " jsonl or parquet"
            )
        return value

    @property
    def file_format(self) -> FileFormat:
        return self.format or infer_format(self.path) or "csv"

    def resolved(self, base_dir: Path) -> FileSourceConfig:
        return self.model_copy(update={"path": absolute(self.path, base_dir)})


class FileSource(Source):
    type = "files"
    config_class = FileSourceConfig
    supports = Capabilities(incremental=True, full=True)
    config: FileSourceConfig

    def files(self) -> list[str]:
        """The files the path matches now, each one a connector may read (symlinks
        resolved)."""
        path = self.config.path
        if os.path.isdir(path):
            pattern = os.path.join(path, "*")
            found = [
                f
                for f in glob.glob(pattern)
                if os.path.isfile(f) and infer_format(f) == self.config.file_format
            ]
        else:
            found = [f for f in glob.glob(path) if os.path.isfile(f)]
        if not found:
            raise SourceError(f"no {self.config.file_format} file matches {path}")
        return sorted(str(self.confinement.check_path(f, field="path")) for f in found)

    def check(self) -> None:
        self.files()

    def _reader(self, files: list[str]) -> str:
        listed = "[" + ", ".join(sql_string(f) for f in files) + "]"
        fmt = self.config.file_format
        if fmt == "parquet":
            return f"read_parquet({listed}, union_by_name = true)"
        if fmt == "jsonl":
            return f"read_json({listed}, format = 'newline_delimited', union_by_name = true)"
        options = [
            f"delim = {sql_string(self.config.delimiter)}",
            f"header = {str(self.config.header).lower()}",
            f"encoding = {sql_string(self.config.encoding)}",
            "union_by_name = true",
        ]
        if self.config.all_text:
            options.append("all_varchar = true")
        return f"read_csv({listed}, {', '.join(options)})"

    def read(self, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        files = self.files()
        query = request.query.strip().rstrip(";") or "SELECT * FROM source"
        params: list[Any] = []
        if request.cursor_column and request.cursor_value is not None:
            column = '"' + request.cursor_column.replace('"', '""') + '"'
            query = f"SELECT * FROM ({query}) AS model WHERE {column} >= ?"
            params.append(request.cursor_value)
        # The model's query is SQL a person wrote: it may read these files and nothing else.
        db = sandboxed_duckdb(readable=files)
        try:
            db.execute(f"CREATE VIEW source AS SELECT * FROM {self._reader(files)}")
            reader = db.sql(query, params=params or None).to_arrow_reader(request.batch_size)
            yield from reader
        except duckdb.Error as exc:
            raise SourceError(str(exc).splitlines()[0]) from exc
        finally:
            db.close()
