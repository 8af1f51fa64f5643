"""A workspace admin's connectors never reach the installation: not its home, store or key,
not its own PostgreSQL database, no file outside the connector paths; user SQL over files
reads only the source's own files; SQL sources read without writing. Each attack was possible
before: a SQL destination on the store file made an admin an admin of another workspace."""

from __future__ import annotations

import os
import sqlite3

import psycopg
import pytest

from syncwright.domain.errors import ConfigError, SourceError
from syncwright.domain.statuses import RunStatus
from syncwright.sdk.confinement import sqlite_path
from syncwright.services.config_file import parse_config
from tests.support.catalogue import Catalogue, configure, run_sync


def store_file(settings) -> str | None:
    return sqlite_path(settings.database_url) if not settings.is_postgres else None


def refused(app, text, tmp_path):
    with pytest.raises(ConfigError) as caught:
        app.configs.apply(parse_config(text), base_dir=tmp_path)
    return caught.value


def destination_on(url, name):
    return f"""
sources: {{{name}_src: {{type: sql, url: "sqlite:///shop.db"}}}}
models: {{{name}_m: {{source: {name}_src, query: "SELECT 1 AS id", primary_key: id}}}}
destinations: {{{name}_dst: {{type: sql, url: "{url}", table: users}}}}
syncs: {{{name}: {{model: {name}_m, destination: {name}_dst}}}}
"""


def files_source_on(path, name, query="SELECT * FROM source"):
    return f"""
sources: {{{name}_src: {{type: files, path: "{path}", format: csv}}}}
models: {{{name}_m: {{source: {name}_src, query: "{query}", primary_key: id}}}}
destinations: {{{name}_dst: {{type: sql, url: "sqlite:///out.db", table: t}}}}
syncs: {{{name}: {{model: {name}_m, destination: {name}_dst}}}}
"""


def nothing_applied(app, name):
    for kind, suffix in (("source", "_src"), ("destination", "_dst"), ("sync", "")):
        assert app.store.config.find(kind, app.workspace_id, name + suffix) is None


def test_a_sql_destination_on_the_store_its_wal_or_the_home_is_refused(
    app, settings, tmp_path, name
):
    sqlite3.connect(tmp_path / "shop.db").close()
    home = settings.home
    targets = [home / "anything.db", home / "engine.db"]
    store = store_file(settings)
    if store is not None:
        (tmp_path / "link.db").symlink_to(store)
        targets += [
            store,
            f"{store}-wal",
            f"{store}-shm",
            tmp_path / "link.db",  # through a symlink
            tmp_path / ".." / home.name / os.path.basename(store),  # through ..
        ]
    for target in targets:
        error = refused(app, destination_on(f"sqlite:///{target}", name), tmp_path)
        assert error.field == f"destinations.{name}_dst.url", target
        assert "installation's own files" in str(error)
        nothing_applied(app, name)


def test_a_relative_sqlite_path_into_the_home_is_refused(app, settings, tmp_path, name):
    sqlite3.connect(tmp_path / "shop.db").close()
    relative = os.path.relpath(settings.home / "x.db", tmp_path)
    error = refused(app, destination_on(f"sqlite:///{relative}", name), tmp_path)
    assert error.field == f"destinations.{name}_dst.url"
    nothing_applied(app, name)


def test_the_store_s_own_postgresql_database_is_refused(app, settings, tmp_path, name, postgres):
    sqlite3.connect(tmp_path / "shop.db").close()
    if not settings.is_postgres:
        pytest.skip("the store is a SQLite file here (refused above)")
    own = settings.database_url
    for url in (own, own.replace("127.0.0.1", "localhost"), own + "?sslmode=disable"):
        error = refused(app, destination_on(url, name), tmp_path)
        assert error.field == f"destinations.{name}_dst.url"
        assert "installation's own database" in str(error)
    # Another database on the same server is the user's own business.
    other = postgres.create_database(f"{name}_other")
    app.configs.apply(parse_config(destination_on(other, name)), base_dir=tmp_path)


def test_a_files_source_on_the_key_or_the_home_is_refused(app, settings, tmp_path, name):
    key = settings.home / "secret.key"
    assert key.exists()
    (tmp_path / "keys").symlink_to(settings.home)
    for path in (
        key,
        settings.home / "*",  # a glob matching the home's files
        tmp_path / "keys" / "secret.key",  # through a symlinked folder
        tmp_path / ".." / settings.home.name / "secret.key",
    ):
        error = refused(app, files_source_on(path, name), tmp_path)
        assert error.field == f"sources.{name}_src.path", path
        nothing_applied(app, name)


def test_a_glob_reaching_into_the_home_is_refused(app, settings, tmp_path, name):
    pattern = settings.home.parent / f"{settings.home.name[:-1]}*" / "secret.key"
    error = refused(app, files_source_on(pattern, name), tmp_path)
    assert error.field == f"sources.{name}_src.path"


def test_a_path_outside_the_connector_paths_is_refused_naming_the_setting(app, tmp_path, name):
    error = refused(app, files_source_on("/etc/passwd", name), tmp_path)
    assert error.field == f"sources.{name}_src.path"
    assert "SYNCWRIGHT_CONNECTOR_PATHS" in str(error)
    sftp = f"""
destinations:
  {name}_dst:
    type: sftp
    host: 127.0.0.1
    username: u
    private_key: /etc/ssh/ssh_host_ed25519_key
    insecure_skip_host_key_check: true
"""
    error = refused(app, sftp, tmp_path)
    assert error.field == f"destinations.{name}_dst.private_key"
    feed = f"destinations: {{{name}_dst: {{type: file_feed, directory: /etc/cron.d}}}}"
    error = refused(app, feed, tmp_path)
    assert error.field == f"destinations.{name}_dst.directory"


def test_a_symlink_to_the_key_made_after_apply_fails_the_run(app, settings, tmp_path, name):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("id,name\n1,one\n")
    app.configs.apply(parse_config(files_source_on(data, name)), base_dir=tmp_path)
    assert run_sync(app, name).status is RunStatus.SUCCEEDED
    (data / "b.csv").symlink_to(settings.home / "secret.key")
    run = run_sync(app, name)
    assert run.status is RunStatus.FAILED
    assert "installation's own files" in run.error


def test_a_sqlite_source_swapped_for_a_link_to_the_store_fails_the_run(
    app, settings, tmp_path, name
):
    shop = Catalogue(tmp_path / "shop.db")
    shop.put({"id": 1})
    configure(app, name, source_url=shop.url, dest_url="sqlite:///dest.db", base_dir=tmp_path)
    assert run_sync(app, name).status is RunStatus.SUCCEEDED
    target = store_file(settings) or settings.home / "secret.key"
    (tmp_path / "shop.db").unlink()
    (tmp_path / "shop.db").symlink_to(target)
    run = run_sync(app, name)
    assert run.status is RunStatus.FAILED
    assert f"sources.{name}_src.url" in run.error and "installation's own files" in run.error


def test_a_files_model_cannot_read_other_files(app, settings, tmp_path, name):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("id,name\n1,one\n")
    services = app.in_workspace(app.workspace_id)
    attacks = {
        "passwd": "SELECT 1 AS id, * FROM read_csv('/etc/passwd')",
        "key": f"SELECT 1 AS id, * FROM read_text('{settings.home / 'secret.key'}')",
        "unlock": (
            "SET enable_external_access = true; SELECT 1 AS id, * FROM read_csv('/etc/passwd')"
        ),
        "attach": f"ATTACH '{settings.home / 'x.db'}' AS x; SELECT 1 AS id",
        "copy": f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'; SELECT 1 AS id",
    }
    for label, query in attacks.items():
        sync = f"{name}_{label}"
        app.configs.apply(parse_config(files_source_on(data, sync, query)), base_dir=tmp_path)
        model = app.store.config.find("model", app.workspace_id, f"{sync}_m")
        with pytest.raises(SourceError) as caught:
            services.connections.preview(model["id"])
        assert "disabled by configuration" in str(caught.value) or "locked" in str(caught.value)
        run = run_sync(app, sync)
        assert run.status is RunStatus.FAILED, label
    assert not (tmp_path / "out.csv").exists()
    # The source's own files stay readable, by the view and by name.
    own = f"SELECT * FROM read_csv('{data / 'a.csv'}')"
    app.configs.apply(parse_config(files_source_on(data, f"{name}_own", own)), base_dir=tmp_path)
    assert run_sync(app, f"{name}_own").status is RunStatus.SUCCEEDED


def test_a_sqlite_model_cannot_write_to_its_source(app, tmp_path, name):
    shop = Catalogue(tmp_path / "shop.db")
    shop.put({"id": 1}, {"id": 2})
    writing = dict(
        source_url=shop.url,
        dest_url="sqlite:///dest.db",
        base_dir=tmp_path,
        query="DELETE FROM products RETURNING id, sku",
    )
    # Refused when applied: the query does not run as a model (it runs for no row there).
    with pytest.raises(ConfigError, match="does not run"):
        configure(app, name, **writing)
    assert set(shop.rows()) == {1, 2}
    # Applied without the checks, the run cannot write either.
    configure(app, name, **writing, check_connections=False)
    run = run_sync(app, name)
    assert run.status is RunStatus.FAILED
    assert "readonly" in run.error or "read-only" in run.error
    assert set(shop.rows()) == {1, 2}


def test_a_postgresql_model_cannot_write_to_its_source(app, tmp_path, name, postgres):
    url = postgres.create_database(f"{name}_src")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE products (id int PRIMARY KEY, sku text)")
        conn.execute("INSERT INTO products VALUES (1, 'A'), (2, 'B')")
        # A function that deletes: a plain SELECT of it would empty the table.
        conn.execute(
            "CREATE FUNCTION purge() RETURNS SETOF products LANGUAGE sql"
            " AS 'DELETE FROM products RETURNING *'"
        )
    configure(
        app,
        name,
        source_url=url,
        dest_url="sqlite:///dest.db",
        base_dir=tmp_path,
        query="SELECT * FROM purge()",
    )
    run = run_sync(app, name)
    assert run.status is RunStatus.FAILED
    assert "read-only transaction" in run.error
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM products").fetchone() == (2,)
