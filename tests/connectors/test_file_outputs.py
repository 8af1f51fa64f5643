"""File feeds and SFTP uploads: artifacts, the latest file, sent then ok, confirmation."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import threading

import duckdb
import pytest

from syncwright.domain.errors import ConfigError
from syncwright.domain.statuses import EntryStatus, Operation, RunStatus
from tests.connectors.conftest import apply_sync, by_reference, catalogue_model, sql_source
from tests.support.catalogue import run_sync


def feed(app, sync_name, shop, tmp_path, sync=None, **settings):
    return apply_sync(
        app,
        sync_name,
        source=sql_source(shop),
        model=catalogue_model(),
        destination={"type": "file_feed", "directory": "feeds", **settings},
        sync=sync,
        base_dir=tmp_path,
    )


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_full_feed_writes_every_row_each_run_and_switches_latest(app, name, shop, tmp_path):
    feed(app, name, shop, tmp_path, name="catalogue", keep=2)
    first = run_sync(app, name)
    assert first.status is RunStatus.SUCCEEDED
    assert {e.status for e in by_reference(app, first).values()} == {EntryStatus.OK}
    artifact = app.store.artifacts.for_run(first.id)
    latest = tmp_path / "feeds" / "catalogue-latest.csv"
    assert artifact.latest == str(latest)
    data = latest.read_bytes()
    assert len(csv_rows(data)) == 20 == artifact.rows
    assert artifact.size == len(data)
    assert artifact.checksum == "sha256:" + hashlib.sha256(data).hexdigest()
    assert artifact.content_type == "text/csv"

    shop.put({"id": 3, "name": "renamed"})
    shop.remove(20)
    second = run_sync(app, name)
    rows = csv_rows(latest.read_bytes())
    assert len(rows) == 19  # the whole model again, without the removed row
    assert next(r for r in rows if r["id"] == "3")["name"] == "renamed"
    assert (
        app.store.artifacts.latest(app.store.config.sync_by_name(app.workspace_id, name).id).run_id
        == second.id
    )
    run_sync(app, name)
    run_files = sorted(p.name for p in (tmp_path / "feeds").glob("catalogue-2*"))
    assert len(run_files) == 2  # keep: 2
    assert not list((tmp_path / "feeds").glob(".*"))  # no temporary or part left behind


def test_changes_feed_in_gzip_jsonl_carries_operations(app, name, shop, tmp_path):
    feed(
        app,
        name,
        shop,
        tmp_path,
        format="jsonl",
        gzip=True,
        contents="changes",
        sync={"mode": "mirror"},
    )
    run_sync(app, name)
    shop.put({"id": 4, "price": 99.0})
    shop.remove(7)
    second = run_sync(app, name)
    artifact = app.store.artifacts.for_run(second.id)
    assert artifact.location.endswith(".jsonl.gz")
    assert artifact.content_type == "application/gzip"
    with gzip.open(artifact.location, "rt") as f:
        lines = [json.loads(line) for line in f]
    assert sorted((r["_operation"], r["id"]) for r in lines) == [("change", 4), ("remove", 7)]
    assert by_reference(app, second)["SKU-7"].operation is Operation.REMOVE


def test_parquet_feed_of_an_empty_change_set_still_has_its_columns(app, name, shop, tmp_path):
    feed(app, name, shop, tmp_path, format="parquet", contents="changes")
    run_sync(app, name)
    quiet = run_sync(app, name)
    artifact = app.store.artifacts.for_run(quiet.id)
    assert artifact.rows == 0
    columns = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{artifact.location}')").fetchall()
    assert [c[0] for c in columns] == ["_operation", "id", "sku", "name", "price", "updated_at"]


def test_feed_config_errors_name_the_field(app, name, shop, tmp_path):
    with pytest.raises(ConfigError) as refused:
        feed(app, name, shop, tmp_path, format="parquet", gzip=True)
    assert refused.value.field == f"destinations.{name}_dst.gzip"
    assert "gzip applies to csv and jsonl" in str(refused.value)
    with pytest.raises(ConfigError) as refused:
        feed(app, name, shop, tmp_path, contents="everything")
    assert refused.value.field == f"destinations.{name}_dst.contents"


# -- SFTP ---------------------------------------------------------------------------------------
def sftp_sync(app, sync_name, shop, tmp_path, server, check=True, **settings):
    return apply_sync(
        app,
        sync_name,
        source=sql_source(shop),
        model=catalogue_model(),
        destination=server.destination(
            staging_directory="staging",
            remote_directory="/inbox",
            confirm_interval=0.05,
            **settings,
        ),
        base_dir=tmp_path,
        check=check,
    )


def test_sftp_upload_is_ok_once_the_file_is_picked_up(app, name, shop, tmp_path, sftp_server):
    inbox = sftp_server.root / "inbox"
    inbox.mkdir()
    sftp_sync(app, name, shop, tmp_path, sftp_server, name="products", confirm_timeout=30)
    picked: list[str] = []

    def consumer() -> None:  # the endpoint takes files as they arrive
        while not picked:
            for path in inbox.iterdir():
                if path.name.startswith("."):
                    continue  # still uploading under its temporary name
                picked.append(path.read_text())
                path.unlink()
            threading.Event().wait(0.02)

    thread = threading.Thread(target=consumer, daemon=True)
    thread.start()
    run = run_sync(app, name)
    thread.join(30)

    assert run.status is RunStatus.SUCCEEDED
    assert {e.status for e in by_reference(app, run).values()} == {EntryStatus.OK}
    assert len(csv_rows(picked[0].encode())) == 20
    artifact = app.store.artifacts.for_run(run.id)
    assert artifact.location.startswith(f"sftp://127.0.0.1:{sftp_server.port}/inbox/products-")
    assert (tmp_path / "staging" / "127.0.0.1" / "products-latest.csv").exists()


def test_sftp_ack_file_confirms(app, name, shop, tmp_path, sftp_server):
    inbox = sftp_server.root / "inbox"
    inbox.mkdir()
    sftp_sync(app, name, shop, tmp_path, sftp_server, confirm="ack_file", confirm_timeout=30)

    def acknowledge() -> None:
        for _ in range(1500):
            done = [p for p in inbox.glob("feed-*.csv")]
            if done:
                (inbox / (done[0].name + ".ok")).write_text("")
                return
            threading.Event().wait(0.02)

    thread = threading.Thread(target=acknowledge, daemon=True)
    thread.start()
    run = run_sync(app, name)
    thread.join(30)
    assert run.status is RunStatus.SUCCEEDED
    assert run.counters.ok == 20 and run.counters.sent == 0


def test_sftp_without_confirmation_fails_items_after_the_timeout(
    app, name, shop, tmp_path, sftp_server
):
    (sftp_server.root / "inbox").mkdir()
    sftp_sync(app, name, shop, tmp_path, sftp_server, confirm_timeout=0.3)
    run = run_sync(app, name)
    assert run.status is RunStatus.FAILED
    entry = by_reference(app, run)["SKU-1"]
    assert entry.status is EntryStatus.FAILED
    assert "did not confirm" in entry.error and "within 0.3 s" in entry.error
    # Unconfirmed items are sent again by the next run.
    (sftp_server.root / "inbox").joinpath("x").write_text("")
    assert run_sync(app, name).counters.added == 20


def test_sftp_wrong_password_fails_items_with_the_reason(app, name, shop, tmp_path, sftp_server):
    (sftp_server.root / "inbox").mkdir()
    sftp_sync(app, name, shop, tmp_path, sftp_server, password="wrong", confirm="none", check=False)
    run = run_sync(app, name)
    assert run.status is RunStatus.FAILED
    assert "AuthenticationException" in by_reference(app, run)["SKU-1"].error
