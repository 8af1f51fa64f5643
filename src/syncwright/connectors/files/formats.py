"""The file formats syncwright reads and writes, and how DuckDB names them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

FileFormat = Literal["csv", "jsonl", "parquet"]

EXTENSIONS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

CONTENT_TYPES: dict[FileFormat, str] = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}


def infer_format(path: str) -> FileFormat | None:
    """The format a path's extension names (``.gz`` looked through), or None."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return EXTENSIONS.get(suffixes[-1]) if suffixes else None


def absolute(path: str, base_dir: Path) -> str:
    """A relative path (or glob) made absolute against ``base_dir``; ``~`` expanded."""
    expanded = Path(path).expanduser()
    return str(expanded if expanded.is_absolute() else base_dir / expanded)


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
