"""Opening the store (SQLite in WAL mode, or PostgreSQL) and migrating it with Alembic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).with_name("migrations")


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def create_store_engine(url: str) -> sa.Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # A page cache that holds the report indexes' hot pages while a run writes its
            # entries (SQLite's default, 2 MB, makes large runs re-read index pages).
            cur.execute("PRAGMA cache_size=-65536")
            # Checkpoint the WAL every 64 MB rather than every 4 MB: large runs write their
            # entries in long streaks, and each checkpoint rewrites index pages.
            cur.execute("PRAGMA wal_autocheckpoint=16384")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def is_transient(exc: BaseException) -> bool:
    """A store error that passes by itself: the connection to PostgreSQL was lost or refused
    (a restart, a fail-over, a network blip) or the server is short of a resource for now.
    SQLite's errors are not: it waits for locks itself, and a full or read-only disk does not
    mend by waiting a few seconds."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    return isinstance(exc.orig, psycopg.OperationalError)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate the store to ``revision`` (the newest by default)."""
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
