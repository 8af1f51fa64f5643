from __future__ import annotations

import pytest

from tests.support.mariadb import MariaDbServer
from tests.support.postgres import PostgresServer


def pytest_configure(config):
    config.addinivalue_line("markers", "mariadb: needs the MariaDB server started by the harness")


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server on loopback for the whole session."""
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mariadb():
    """A real MariaDB server on loopback for the whole session."""
    server = MariaDbServer().start()
    yield server
    server.stop()
