"""What connectors may reach, judged without a server: paths after symlinks and ``..``,
SQLite URLs in every spelling, and the store's own PostgreSQL database under other names."""

from __future__ import annotations

import pytest

from syncwright.domain.errors import ConfigError
from syncwright.sdk.confinement import Confinement, sqlite_path


@pytest.fixture
def rules(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "home").mkdir()
    return Confinement(
        allowed=(tmp_path,),
        forbidden=(tmp_path / "home", tmp_path / "store.db"),
        databases=("postgresql://sw:secret@127.0.0.1:5433/store",),
    )


def test_paths_inside_the_allowed_directories_pass_and_come_back_real(rules, tmp_path):
    (tmp_path / "data" / "link").symlink_to(tmp_path / "data")
    assert rules.check_path(tmp_path / "data" / "link" / "a.csv", field="f") == (
        tmp_path / "data" / "a.csv"
    )


@pytest.mark.parametrize(
    "path",
    [
        "home",
        "home/secret.key",
        "data/../home/engine.db",
        "store.db",
        "store.db-wal",
        "store.db-shm",
        "store.db-journal",
        "ho*/secret.key",
    ],
)
def test_the_installation_s_own_files_are_refused_naming_the_field(rules, tmp_path, path):
    (tmp_path / "home" / "secret.key").write_text("k")
    with pytest.raises(ConfigError) as caught:
        rules.check_path(str(tmp_path / path), field="sources.s.path")
    assert caught.value.field == "sources.s.path"
    assert "installation's own files" in str(caught.value)


def test_a_symlink_to_the_home_is_refused(rules, tmp_path):
    (tmp_path / "data" / "innocent.db").symlink_to(tmp_path / "store.db")
    with pytest.raises(ConfigError):
        rules.check_path(tmp_path / "data" / "innocent.db", field="f")


def test_outside_the_allowed_directories_names_the_setting(rules):
    with pytest.raises(ConfigError, match="SYNCWRIGHT_CONNECTOR_PATHS"):
        rules.check_path("/etc/passwd", field="f")
    assert Confinement().check_path("/etc/passwd", field="f")  # outside an installation


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///{d}/store.db",
        "sqlite+pysqlite:///{d}/store.db",
        "sqlite:///file:{d}/store.db?mode=ro&uri=true",
        "sqlite:///{d}/data/../home/x.db",
    ],
)
def test_sqlite_urls_in_every_spelling_are_judged_by_their_file(rules, tmp_path, url):
    with pytest.raises(ConfigError) as caught:
        rules.check_database_url(url.format(d=tmp_path), field="destinations.d.url")
    assert caught.value.field == "destinations.d.url"


def test_memory_databases_need_no_path():
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("sqlite:///file:x?mode=memory&uri=true") is None


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://sw:secret@127.0.0.1:5433/store",
        "postgresql+psycopg://other:pw@localhost:5433/store",
        "postgres://127.0.0.1:5433/store?sslmode=disable",
    ],
)
def test_the_store_s_own_database_is_refused_under_any_name(rules, url):
    with pytest.raises(ConfigError, match="installation's own database"):
        rules.check_database_url(url, field="sources.s.url")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://sw:secret@127.0.0.1:5433/shop",  # another database of that server
        "postgresql://sw:secret@127.0.0.1:5432/store",  # another server
        "mysql+pymysql://u:p@127.0.0.1:5433/store",
    ],
)
def test_other_databases_are_the_workspace_s_own_business(rules, url):
    rules.check_database_url(url, field="sources.s.url")


def test_the_store_s_url_is_not_in_the_rules_repr(rules):
    assert "secret" not in repr(rules)
