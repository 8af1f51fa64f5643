from __future__ import annotations

import pytest

from tests.support.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server on loopback for the whole session."""
    server = PostgresServer().start()
    yield server
    server.stop()
