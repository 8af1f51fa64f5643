"""The store: one engine and the repositories over it, built once by bootstrap."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa

from syncwright.sdk import sqlite_files
from syncwright.sdk.confinement import sqlite_path
from syncwright.storage.accounts_repo import AccountRepository
from syncwright.storage.alerts_repo import AlertRepository
from syncwright.storage.artifacts_repo import ArtifactRepository
from syncwright.storage.audit_repo import AuditRepository
from syncwright.storage.changesets_repo import ChangeSetRepository
from syncwright.storage.config_repo import ConfigRepository
from syncwright.storage.database import create_store_engine, upgrade
from syncwright.storage.entries_repo import EntryRepository
from syncwright.storage.exchanges_repo import ExchangeRepository
from syncwright.storage.ledger import RunLedger
from syncwright.storage.metrics_repo import MetricsRepository
from syncwright.storage.report_repo import ReportRepository
from syncwright.storage.retention_repo import RetentionRepository
from syncwright.storage.runs_repo import RunRepository
from syncwright.storage.secrets import SecretBox
from syncwright.storage.sessions_repo import SessionRepository
from syncwright.storage.snapshots_repo import SnapshotRepository
from syncwright.storage.throttle_repo import ThrottleRepository
from syncwright.storage.webhooks_repo import WebhookRepository
from syncwright.storage.workers_repo import WorkerRepository


@dataclass
class Store:
    engine: sa.Engine
    config: ConfigRepository
    runs: RunRepository
    entries: EntryRepository
    exchanges: ExchangeRepository
    #: A run's ledger as the engine writes it (each operation its own transaction).
    ledger: RunLedger
    snapshots: SnapshotRepository
    changesets: ChangeSetRepository
    artifacts: ArtifactRepository
    report: ReportRepository
    retention: RetentionRepository
    webhooks: WebhookRepository
    workers: WorkerRepository
    accounts: AccountRepository
    audit: AuditRepository
    sessions: SessionRepository
    metrics: MetricsRepository
    alerts: AlertRepository
    secrets: SecretBox
    throttle: ThrottleRepository
    #: Lets go of the store's SQLite file (see ``syncwright.sdk.sqlite_files``).
    release_file: Callable[[], None] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, url: str, secrets: SecretBox | None = None) -> Store:
        """The store at ``url``; connector secrets sealed with ``secrets`` (a key of its own
        when not given: for a store nobody opens again)."""
        path = sqlite_path(url)
        # Python's sqlite3 has the store's file: no second SQLite library of this process may
        # open it while the store is open (connectors are refused it anyway).
        release_file = sqlite_files.hold(path, "sqlite3") if path is not None else None
        engine = create_store_engine(url)
        box = secrets or SecretBox.ephemeral()
        runs = RunRepository(engine)
        snapshots = SnapshotRepository(engine)
        config = ConfigRepository(engine, box)
        changesets = ChangeSetRepository(engine)
        entries = EntryRepository(engine, runs, snapshots)
        return cls(
            engine=engine,
            config=config,
            runs=runs,
            entries=entries,
            exchanges=ExchangeRepository(engine),
            ledger=RunLedger(engine, runs, entries, changesets, snapshots),
            snapshots=snapshots,
            changesets=changesets,
            artifacts=ArtifactRepository(engine),
            report=ReportRepository(engine, changesets),
            retention=RetentionRepository(engine),
            webhooks=WebhookRepository(engine),
            workers=WorkerRepository(engine),
            accounts=AccountRepository(engine),
            audit=AuditRepository(engine),
            sessions=SessionRepository(engine),
            metrics=MetricsRepository(engine),
            alerts=AlertRepository(engine, box, config),
            secrets=box,
            throttle=ThrottleRepository(engine),
            release_file=release_file,
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def ping(self) -> None:
        """Raise if the store does not answer a query."""
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def upgrade(self) -> None:
        upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()
        if self.release_file is not None:
            self.release_file()
            self.release_file = None
