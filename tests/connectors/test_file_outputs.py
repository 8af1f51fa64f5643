"""File feeds and SFTP uploads: artifacts, the latest file, sent then ok, confirmation."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import shutil
import threading
from pathlib import Path

import duckdb
import pytest

from syncwright.domain.errors import ConfigError
from syncwright.domain.statuses import EntryStatus, Operation, RunStatus
from tests.connectors.conftest import apply_sync, by_reference, catalogue_model, sql_source
from tests.support.catalogue import run_sync


def feed(app, sync_name, shop, tmp_path, sync=None, check=True, **settings):
    return apply_sync(
        app,
        sync_name,
        source=sql_source(shop),
        model=catalogue_model(),
        destination={"type": "file_feed", "directory": "feeds", **settings},
        sync=sync,
        base_dir=tmp_path,
        check=check,
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


def test_full_feed_entries_say_what_changed(app, name, shop, tmp_path):
    feed(app, name, shop, tmp_path, name="catalogue")
    first = run_sync(app, name)
    assert {e.operation for e in by_reference(app, first).values()} == {Operation.ADD}

    shop.put({"id": 3, "name": "renamed"})
    shop.put({"id": 21, "price": 21.0})
    shop.remove(20)
    second = run_sync(app, name)
    assert second.status is RunStatus.SUCCEEDED
    assert {ref: (e.operation, e.status) for ref, e in by_reference(app, second).items()} == {
        "SKU-3": (Operation.CHANGE, EntryStatus.OK),
        "SKU-21": (Operation.ADD, EntryStatus.OK),
        "SKU-20": (Operation.REMOVE, EntryStatus.OK),
    }
    counters = second.counters
    assert (counters.read, counters.unchanged, counters.added, counters.changed) == (20, 18, 1, 1)
    assert (counters.removed, counters.skipped, counters.ok) == (1, 0, 3)
    rows = csv_rows((tmp_path / "feeds" / "catalogue-latest.csv").read_bytes())
    # The file still holds the whole model: the 18 unchanged rows are in it, without entries.
    assert sorted(int(r["id"]) for r in rows) == [*range(1, 20), 21]
    assert next(r for r in rows if r["id"] == "3")["name"] == "renamed"
    assert app.store.artifacts.for_run(second.id).rows == 20

    assert second.counters.problems() == []

    quiet = run_sync(app, name)
    assert quiet.status is RunStatus.SUCCEEDED
    assert by_reference(app, quiet) == {}
    assert (quiet.counters.unchanged, quiet.counters.changes) == (20, 0)
    assert quiet.counters.problems() == []
    assert app.store.artifacts.for_run(quiet.id).rows == 20
    rows = csv_rows((tmp_path / "feeds" / "catalogue-latest.csv").read_bytes())
    assert sorted(int(r["id"]) for r in rows) == [*range(1, 20), 21]

    full = run_sync(app, name, full=True)  # a full resync: every row goes again, as a change
    assert full.status is RunStatus.SUCCEEDED
    assert (full.counters.changed, full.counters.unchanged, full.counters.ok) == (20, 0, 20)
    assert full.counters.problems() == []
    assert app.store.artifacts.for_run(full.id).rows == 20


@pytest.mark.parametrize("write_mode", ["upsert", "insert", "mirror"])
def test_full_feed_in_small_batches_holds_the_model_whatever_the_write_mode(
    app, name, shop, tmp_path, write_mode
):
    # Batches of 3: changes and unchanged rows share records, and most records hold no item.
    feed(app, name, shop, tmp_path, sync={"mode": write_mode, "batch_size": 3})
    assert run_sync(app, name).counters.added == 20
    shop.put({"id": 7, "name": "seven"})
    shop.remove(8)
    shop.put({"id": 40})
    run = run_sync(app, name)
    assert run.status is RunStatus.SUCCEEDED
    # What the file shows is what the entries say, in every write mode: the file mirrors
    # the model, so the removal is delivered (and the change is not skipped in insert mode).
    assert {ref: e.operation for ref, e in by_reference(app, run).items()} == {
        "SKU-7": Operation.CHANGE,
        "SKU-40": Operation.ADD,
        "SKU-8": Operation.REMOVE,
    }
    counters = run.counters
    assert (counters.unchanged, counters.ok, counters.skipped) == (18, 3, 0)
    assert counters.problems() == []
    rows = csv_rows((tmp_path / "feeds" / "feed-latest.csv").read_bytes())
    assert sorted(int(r["id"]) for r in rows) == [*range(1, 8), *range(9, 21), 40]
    assert next(r for r in rows if r["id"] == "7")["name"] == "seven"


def test_full_feed_that_cannot_be_staged_fails_its_items_and_the_run(app, name, shop, tmp_path):
    (tmp_path / "feeds").write_text("")  # the feed's folder is a file
    feed(app, name, shop, tmp_path, name="catalogue", check=False)
    run = run_sync(app, name)
    assert run.status is RunStatus.FAILED
    assert run.error and "cannot stage the batch" in run.error
    entries = by_reference(app, run)
    assert len(entries) == 20 and {e.status for e in entries.values()} == {EntryStatus.FAILED}
    assert run.counters.problems() == []


def test_quiet_full_feed_that_cannot_be_staged_fails_the_run(app, name, shop, tmp_path):
    feed(app, name, shop, tmp_path, name="catalogue")
    assert run_sync(app, name).status is RunStatus.SUCCEEDED
    folder = tmp_path / "feeds"
    shutil.rmtree(folder)
    folder.write_text("")  # the feed's folder is now a file: no part can be staged
    run = run_sync(app, name)
    # No item changed, so no entry could fail: the run says the file was not written.
    assert run.status is RunStatus.FAILED
    assert by_reference(app, run) == {}
    assert run.error and "cannot stage the batch" in run.error
    assert app.store.artifacts.for_run(run.id) is None


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


# -- SFTP to OpenSSH, logging in with a key ------------------------------------------------------
def sshd_sync(app, sync_name, shop, tmp_path, sshd, key="ed25519", check=True, **settings):
    (tmp_path / "inbox").mkdir(exist_ok=True)
    return apply_sync(
        app,
        sync_name,
        source=sql_source(shop),
        model=catalogue_model(),
        destination=sshd.destination(
            key,
            **{
                "staging_directory": "staging",
                "remote_directory": str(tmp_path / "inbox"),
                "confirm": "none",
                **settings,
            },
        ),
        base_dir=tmp_path,
        check=check,
    )


def uploaded(app, run, sshd) -> bytes:
    """The file a run uploaded (sshd serves the real file system, so its remote path is local)."""
    location = app.store.artifacts.for_run(run.id).location
    prefix = f"sftp://127.0.0.1:{sshd.port}/"
    assert location.startswith(prefix)
    return Path("/", location.removeprefix(prefix)).read_bytes()


@pytest.mark.parametrize(
    "key",
    [
        "ed25519",
        "ed25519_passphrase",  # OpenSSH's format, encrypted
        "rsa",
        "rsa_passphrase",
        "rsa_pem_passphrase",  # the old PEM format, encrypted
        "ecdsa_pkcs8_passphrase",  # PKCS#8, encrypted (paramiko alone cannot read it)
        "ed25519_certificate",  # known to the server by its certificate only
    ],
)
def test_sftp_logs_in_to_openssh_with_a_private_key(app, name, shop, tmp_path, sshd, key):
    sshd_sync(app, name, shop, tmp_path, sshd, key=key, name="products")
    run = run_sync(app, name)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.counters.ok == 20
    assert len(csv_rows(uploaded(app, run, sshd))) == 20
    assert [p.name.startswith("products-") for p in (tmp_path / "inbox").iterdir()] == [True]


def test_sftp_key_without_a_passphrase_leaves_the_password_to_the_login(
    app, name, shop, tmp_path, sshd
):
    sshd_sync(app, name, shop, tmp_path, sshd, key="rsa", password="not the key's")
    run = run_sync(app, name)
    assert run.status is RunStatus.SUCCEEDED, run.error


@pytest.mark.parametrize("locked", ["ed25519_passphrase", "rsa_pem_passphrase"])
def test_sftp_key_with_a_wrong_or_missing_passphrase_fails_with_the_reason(
    app, name, shop, tmp_path, sshd, locked
):
    sshd_sync(app, name, shop, tmp_path, sshd, key=locked, password="wrong", check=False)
    run = run_sync(app, name)
    assert run.status is RunStatus.FAILED
    error = by_reference(app, run)["SKU-1"].error
    assert "private_key" in error and "wrong passphrase (password" in error
    assert run.error and "wrong passphrase" in run.error
    destination = sshd.destination(locked)
    del destination["password"]
    apply_sync(
        app,
        f"{name}_bare",
        source=sql_source(shop),
        model=catalogue_model(),
        destination={**destination, "staging_directory": "staging", "confirm": "none"},
        base_dir=tmp_path,
        check=False,
    )
    run = run_sync(app, f"{name}_bare")
    assert run.status is RunStatus.FAILED
    error = by_reference(app, run)["SKU-1"].error
    assert "is encrypted: set password to its passphrase" in error


def test_sftp_private_key_that_is_no_private_key_is_named(app, name, shop, tmp_path, sshd):
    public = f"{sshd.keys['ed25519'].path}.pub"
    sshd_sync(app, name, shop, tmp_path, sshd, private_key=public, check=False)
    run = run_sync(app, name)
    assert run.status is RunStatus.FAILED
    assert f"private_key {public} is a public key" in by_reference(app, run)["SKU-1"].error


def _without_port(lines: str) -> str:
    """Known_hosts lines as ssh-keyscan prints them for a server on port 22."""
    return "\n".join("127.0.0.1 " + line.split(" ", 1)[1] for line in lines.splitlines())


HOST_KEY_FORMS = {
    # ssh-keyscan -p PORT 127.0.0.1: "[127.0.0.1]:PORT ssh-ed25519 AAAA..."
    "known_hosts_line": lambda sshd: sshd.keyscan(),
    # ssh-keyscan 127.0.0.1 (port 22): "127.0.0.1 ssh-ed25519 AAAA..."
    "known_hosts_line_without_port": lambda sshd: _without_port(sshd.keyscan()),
    "hashed_known_hosts_line": lambda sshd: sshd.keyscan(hashed=True),
    # every line ssh-keyscan prints, one per host key type
    "every_key_type": lambda sshd: sshd.keyscan("rsa,ecdsa,ed25519"),
    "rsa": lambda sshd: sshd.keyscan("rsa"),
    "plain": lambda sshd: sshd.host_key(),
    "plain_with_comment": lambda sshd: sshd.host_key() + " root@sftp.example",
}


@pytest.mark.parametrize("form", HOST_KEY_FORMS)
def test_sftp_host_key_as_known_hosts_gives_it(app, name, shop, tmp_path, sshd, form):
    host_key = HOST_KEY_FORMS[form](sshd)
    sshd_sync(app, name, shop, tmp_path, sshd, host_key=host_key)
    run = run_sync(app, name)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.counters.ok == 20


def test_sftp_refuses_a_server_whose_key_is_not_the_host_key(app, name, shop, tmp_path, sshd):
    someone_else = " ".join(
        Path(f"{sshd.keys['ed25519'].path}.pub").read_text().split()[:2]
    )  # a valid ed25519 key, but not the server's
    sshd_sync(
        app, name, shop, tmp_path, sshd, host_key=f"[127.0.0.1]:22 {someone_else}", check=False
    )
    run = run_sync(app, name)
    assert run.status is RunStatus.FAILED
    error = by_reference(app, run)["SKU-1"].error
    assert "BadHostKeyException: the server's ssh-ed25519 key (SHA256:" in error
    assert "is not the one in host_key" in error
    assert not list((tmp_path / "inbox").iterdir())  # nothing was uploaded


@pytest.mark.parametrize(
    ("host_key", "message"),
    [
        ("[127.0.0.1]:2222", "expected"),
        ("ssh-ed25519 not-base64!", "base64"),
        ("127.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "ssh-ed25519"),
        ("@revoked 127.0.0.1 ssh-ed25519 AAAA", "@revoked"),
        ("ssh-dss AAAAB3NzaC1kc3M=", "unknown key type 'ssh-dss'"),
        ("# only a comment", "no key found"),
    ],
)
def test_sftp_host_key_errors_name_the_field(app, name, shop, tmp_path, host_key, message):
    with pytest.raises(ConfigError) as refused:
        apply_sync(
            app,
            name,
            source=sql_source(shop),
            model=catalogue_model(),
            destination={
                "type": "sftp",
                "host": "127.0.0.1",
                "username": "feeds",
                "password": "x",
                "host_key": host_key,
            },
            base_dir=tmp_path,
            check=False,
        )
    assert refused.value.field == f"destinations.{name}_dst.host_key"
    assert message in str(refused.value)


def test_sftp_quiet_run_whose_upload_fails_fails(app, name, shop, tmp_path, sshd):
    sshd_sync(app, name, shop, tmp_path, sshd)
    assert run_sync(app, name).status is RunStatus.SUCCEEDED
    shutil.rmtree(tmp_path / "inbox")  # the remote folder is gone
    run = run_sync(app, name)
    assert run.counters.changes == 0
    assert run.status is RunStatus.FAILED
    assert run.error and "upload of feed-" in run.error


def test_sftp_quiet_run_that_is_not_picked_up_fails(app, name, shop, tmp_path, sshd):
    inbox = tmp_path / "inbox"
    sshd_sync(app, name, shop, tmp_path, sshd, confirm="picked_up", confirm_interval=0.05)
    taken = threading.Event()

    def endpoint() -> None:  # takes the first run's file, then no more
        while not taken.is_set():
            for path in inbox.glob("feed-*.csv"):
                path.unlink()
                taken.set()
            threading.Event().wait(0.02)

    thread = threading.Thread(target=endpoint, daemon=True)
    thread.start()
    first = run_sync(app, name)
    thread.join(30)
    assert first.status is RunStatus.SUCCEEDED and first.counters.ok == 20
    sshd_sync(
        app,
        name,
        shop,
        tmp_path,
        sshd,
        confirm="picked_up",
        confirm_interval=0.05,
        confirm_timeout=0.3,
    )
    quiet = run_sync(app, name)
    assert quiet.counters.changes == 0
    assert quiet.status is RunStatus.FAILED
    assert quiet.error and "did not confirm" in quiet.error


def test_sftp_full_file_entries_say_what_changed(app, name, shop, tmp_path, sshd):
    sshd_sync(app, name, shop, tmp_path, sshd, name="products")
    first = run_sync(app, name)
    assert first.counters.added == first.counters.ok == 20
    shop.put({"id": 5, "price": 55.0})
    shop.put({"id": 30})
    shop.remove(1)
    second = run_sync(app, name)
    assert second.status is RunStatus.SUCCEEDED, second.error
    assert {ref: (e.operation, e.status) for ref, e in by_reference(app, second).items()} == {
        "SKU-5": (Operation.CHANGE, EntryStatus.OK),
        "SKU-30": (Operation.ADD, EntryStatus.OK),
        "SKU-1": (Operation.REMOVE, EntryStatus.OK),
    }
    assert (second.counters.unchanged, second.counters.ok) == (18, 3)
    assert second.counters.problems() == []
    rows = csv_rows(uploaded(app, second, sshd))
    assert sorted(int(r["id"]) for r in rows) == [*range(2, 21), 30]
    assert next(r for r in rows if r["id"] == "5")["price"] == "55.0"
