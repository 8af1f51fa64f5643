from __future__ import annotations

import itertools

import pytest

from syncwright.bootstrap.app import App, EngineRole
from syncwright.bootstrap.settings import Settings
from syncwright.storage.store import Store

_ids = itertools.count()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request):
    return request.param


@pytest.fixture(scope="module")
def settings(backend, request, tmp_path_factory):
    home = tmp_path_factory.mktemp(f"home-{backend}")
    env = {"SYNCWRIGHT_HOME": str(home), "SYNCWRIGHT_POLL_INTERVAL": "0.05"}
    if backend == "postgres":
        server = request.getfixturevalue("postgres")
        env["SYNCWRIGHT_DATABASE_URL"] = server.create_database(
            f"store_{next(_ids)}_{home.name[-6:]}"
        )
    return Settings.from_env(env)


@pytest.fixture(scope="module")
def app(settings):
    """One launched engine per module and backend; tests isolate themselves by data."""
    with App(settings, role=EngineRole.EXECUTE) as launched:
        yield launched


@pytest.fixture
def dest_url(backend, request, tmp_path):
    """Where the test's destination table lives: SQLite, or a fresh PostgreSQL database."""
    if backend == "postgres":
        server = request.getfixturevalue("postgres")
        return server.create_database(f"dest_{next(_ids)}")
    return f"sqlite:///{tmp_path / 'dest.db'}"


@pytest.fixture
def name(request):
    """A sync name unique to the test."""
    return f"s{next(_ids)}_" + request.node.name.split("[")[0].removeprefix("test_")[:40]


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    """A fresh store's URL: a SQLite file, or a new PostgreSQL database."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres").create_database(f"store_t{next(_ids)}")
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def store(store_url):
    store = Store.open(store_url)
    store.upgrade()
    yield store
    store.close()
