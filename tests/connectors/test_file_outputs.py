"""File feeds and SFTP uploads: artifacts, the latest file, sent then ok, confirmation."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import threading
from pathlib import Path

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
