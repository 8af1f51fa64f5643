"""File and HTTP JSON API sources against real files and a real HTTP server."""

from __future__ import annotations

import csv
import gzip
import json
import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from syncwright.connectors.files.source import FileSource
from syncwright.connectors.http.source import HttpSource
from syncwright.connectors.sql.source import SqlSource
from syncwright.domain.errors import ConfigError, SourceError
from syncwright.domain.statuses import RunStatus
from syncwright.sdk import ReadAgain, ReadRequest
from tests.connectors.conftest import apply_sync
from tests.support.catalogue import run_sync, table_rows
from tests.support.http_api import Answer

PRODUCTS = [{"id": i, "sku": f"SKU-{i}", "price": i * 1.5} for i in range(1, 8)]


def read(source, query: str = "") -> list[dict]:
    rows = []
    for item in source.read(ReadRequest(query=query, primary_key=("id",))):
        rows.extend(item.to_pylist() if isinstance(item, pa.RecordBatch) else [item])
    return sorted(rows, key=lambda r: r["id"])


def write_csv(path, rows):
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# -- files ------------------------------------------------------------------------------------
def test_csv_jsonl_and_parquet_read_the_same_rows(tmp_path):
    write_csv(tmp_path / "p.csv", PRODUCTS)
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(r) for r in PRODUCTS) + "\n")
    pq.write_table(pa.Table.from_pylist(PRODUCTS), tmp_path / "p.parquet")
    for name in ("p.csv", "p.jsonl", "p.parquet"):
        assert read(FileSource({"path": str(tmp_path / name)})) == PRODUCTS, name


def test_glob_and_folder_gather_every_file_and_gzip_is_read(tmp_path):
    write_csv(tmp_path / "a.csv", PRODUCTS[:3])
    write_csv(tmp_path / "b.csv", PRODUCTS[3:5])
    with gzip.open(tmp_path / "c.csv.gz", "wt", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(PRODUCTS[0]))
        writer.writeheader()
        writer.writerows(PRODUCTS[5:])
    assert read(FileSource({"path": str(tmp_path / "*.csv*"), "format": "csv"})) == PRODUCTS
    assert read(FileSource({"path": str(tmp_path / "[ab].csv")})) == PRODUCTS[:5]
    assert read(FileSource({"path": str(tmp_path), "format": "csv"})) == PRODUCTS


def test_the_model_query_runs_over_the_source_view(tmp_path):
    write_csv(tmp_path / "p.csv", PRODUCTS)
    source = FileSource({"path": str(tmp_path / "p.csv")})
    assert [r["id"] for r in read(source, "SELECT id, sku FROM source WHERE price > 6")] == [
        5,
        6,
        7,
    ]


def test_csv_options(tmp_path):
    (tmp_path / "p.txt").write_text("1;0042\n2;0007\n")
    source = FileSource(
        {
            "path": str(tmp_path / "p.txt"),
            "format": "csv",
            "delimiter": ";",
            "header": False,
            "all_text": True,
        }
    )
    rows = list(
        source.read(
            ReadRequest(
                query="SELECT column0 AS id, column1 AS code FROM source", primary_key=("id",)
            )
        )
    )
    assert pa.Table.from_batches(rows).to_pylist() == [
        {"id": "1", "code": "0042"},
        {"id": "2", "code": "0007"},
    ]


def test_missing_files_and_unknown_formats_are_clear(tmp_path):
    with pytest.raises(SourceError, match="no csv file matches"):
        read(FileSource({"path": str(tmp_path / "none-*.csv")}))
    with pytest.raises(ConfigError) as refused:
        FileSource({"path": str(tmp_path / "data.bin")})
    assert refused.value.field == "config.format"
    assert "cannot tell the format" in str(refused.value)


def test_a_file_model_syncs_into_sql_and_sees_removals(app, name, tmp_path):
    write_csv(tmp_path / "products.csv", PRODUCTS)
    dest = f"sqlite:///{tmp_path / 'dest.db'}"
    apply_sync(
        app,
        name,
        source={"type": "files", "path": "products.csv"},  # relative to the config's folder
        model={"reference": "sku"},
        destination={"type": "sql", "url": dest, "table": "products"},
        sync={"mode": "mirror"},
        base_dir=tmp_path,
    )
    assert run_sync(app, name).counters.ok == 7
    write_csv(tmp_path / "products.csv", PRODUCTS[:-1])
    second = run_sync(app, name)
    assert second.counters.removed == 1 and second.status is RunStatus.SUCCEEDED
    assert sorted(table_rows(dest)) == [1, 2, 3, 4, 5, 6]


# -- SQL ---------------------------------------------------------------------------------------
def _mixed_table(path, rows: int, text_from: int) -> None:
    """A SQLite table whose ``code`` column holds integers, then text from row ``text_from``
    on (SQLite lets a column hold any type)."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, code, label TEXT)")
        db.executemany(
            "INSERT INTO items VALUES (?, ?, ?)",
            ((i, i if i < text_from else f"C-{i}", f"item {i}") for i in range(rows)),
        )


def test_sql_source_reads_sqlite_into_arrow_and_starts_over_on_mixed_types(tmp_path):
    _mixed_table(tmp_path / "mixed.db", 25_000, 20_000)
    source = SqlSource({"url": f"sqlite:///{tmp_path / 'mixed.db'}"})
    request = ReadRequest(query="SELECT * FROM items", primary_key=("id",), batch_size=5000)
    seen = 0
    with pytest.raises(ReadAgain, match="Type mismatch"):
        for batch in source.read(request):
            assert batch.schema.field("code").type == pa.int64()
            seen += batch.num_rows
    assert 0 < seen < 25_000
    # Read again through Python, which types each batch from its own values.
    again = [row for batch in source.read(request) for row in batch.to_pylist()]
    assert len(again) == 25_000
    assert (again[19_999]["code"], again[20_000]["code"]) == (19_999, "C-20000")


def test_a_model_whose_column_changes_type_midway_syncs_every_row(app, name, tmp_path):
    _mixed_table(tmp_path / "mixed.db", 25_000, 20_000)
    dest = f"sqlite:///{tmp_path / 'dest.db'}"
    apply_sync(
        app,
        name,
        source={"type": "sql", "url": f"sqlite:///{tmp_path / 'mixed.db'}"},
        model={"query": "SELECT * FROM items"},
        destination={"type": "sql", "url": dest, "table": "items"},
        sync={"mode": "mirror"},
        base_dir=tmp_path,
    )
    run = run_sync(app, name)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert (run.counters.read, run.counters.ok) == (25_000, 25_000)
    rows = table_rows(dest, table="items")
    assert len(rows) == 25_000 and rows[24_999]["code"] == "C-24999"


# -- HTTP JSON API -----------------------------------------------------------------------------
def test_page_pagination_with_auth_and_records_path(api):
    def answer(request):
        page = int(request.query["page"])
        size = int(request.query["per_page"])
        chunk = PRODUCTS[(page - 1) * size : page * size]
        return Answer(body={"data": {"items": chunk}})

    api.handler = answer
    source = HttpSource(
        {
            "url": api.url,
            "records_path": "data.items",
            "auth": {"type": "header", "header": "X-Api-Key", "token": "k-1"},
            "pagination": {"type": "page", "size_param": "per_page", "page_size": 3},
        }
    )
    assert read(source, "/v1/products") == PRODUCTS
    assert [r.query["page"] for r in api.requests] == ["1", "2", "3"]
    assert {r.path for r in api.requests} == {"/v1/products"}
    assert {r.headers["x-api-key"] for r in api.requests} == {"k-1"}


def test_cursor_pagination(api):
    def answer(request):
        start = int(request.query.get("after", 0))
        chunk = PRODUCTS[start : start + 4]
        following = start + 4 if start + 4 < len(PRODUCTS) else None
        return Answer(body={"records": chunk, "meta": {"next": following}})

    api.handler = answer
    source = HttpSource(
        {
            "url": api.url,
            "records_path": "records",
            "pagination": {"type": "cursor", "cursor_param": "after", "cursor_path": "meta.next"},
        }
    )
    assert read(source) == PRODUCTS
    assert len(api.requests) == 2


def test_link_header_pagination_and_basic_auth(api):
    def answer(request):
        page = int(request.query.get("p", 1))
        headers = {"Link": f'</items?p={page + 1}>; rel="next"'} if page < 3 else {}
        return Answer(body=PRODUCTS[(page - 1) * 3 : page * 3], headers=headers)

    api.handler = answer
    source = HttpSource(
        {
            "url": f"{api.url}/items",
            "auth": {"type": "basic", "username": "u", "password": "p"},
            "pagination": {"type": "link"},
        }
    )
    assert read(source) == PRODUCTS
    assert api.requests[0].headers["authorization"] == "Basic dTpw"


def test_rate_limits_and_server_errors_are_retried(api):
    answers = iter(
        [
            Answer(status=429, headers={"Retry-After": "0"}),
            Answer(status=502, body={"error": "bad gateway"}),
            Answer(body=PRODUCTS),
        ]
    )
    api.handler = lambda request: next(answers)
    source = HttpSource({"url": api.url, "retry_delay": 0.01})
    assert read(source) == PRODUCTS
    assert len(api.requests) == 3


def test_http_source_errors_name_the_cause(api):
    api.handler = lambda request: Answer(status=401, body={"message": "bad token"})
    with pytest.raises(SourceError, match="HTTP 401 Unauthorized: bad token"):
        read(HttpSource({"url": api.url}))
    assert len(api.requests) == 1  # not worth retrying

    api.handler = lambda request: Answer(status=503)
    with pytest.raises(SourceError, match=r"HTTP 503 .*gave up after 3 attempts"):
        read(HttpSource({"url": api.url, "retries": 2, "retry_delay": 0.01}))

    api.handler = lambda request: Answer(raw=b"not json")
    with pytest.raises(SourceError, match="the answer is not JSON"):
        read(HttpSource({"url": api.url}))

    api.handler = lambda request: Answer(body={"items": "nope"})
    with pytest.raises(SourceError, match="items is not a list of records"):
        read(HttpSource({"url": api.url, "records_path": "items"}))


def test_a_failing_http_source_fails_the_run_with_its_error(app, name, api, tmp_path):
    api.handler = lambda request: Answer(status=404, body={"error": "no such list"})
    apply_sync(
        app,
        name,
        source={"type": "http", "url": api.url},
        destination={"type": "sql", "url": f"sqlite:///{tmp_path / 'd.db'}", "table": "t"},
        base_dir=tmp_path,
        check=False,  # the check only asks whether the API answers; this one does, with 404
    )
    run = run_sync(app, name)
    assert run.status is RunStatus.FAILED
    assert "HTTP 404 Not Found: no such list" in run.infos["error"]
