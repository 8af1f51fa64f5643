"""The composition root: builds the store, the engine and the services for one process."""

from __future__ import annotations

import fcntl
import os
import socket
from dataclasses import dataclass
from enum import StrEnum
from typing import IO

import sqlalchemy as sa

from syncwright import __version__
from syncwright.bootstrap.settings import Settings
from syncwright.connectors.registry import ConnectorRegistry
from syncwright.connectors.sql.errors import database_message
from syncwright.connectors.sql.urls import safe_url
from syncwright.domain.clock import utcnow
from syncwright.domain.errors import ConfigError, NotFound, SyncwrightError
from syncwright.domain.retry import RetryPolicy
from syncwright.domain.run import Run
from syncwright.engine.alerting import Alerting
from syncwright.engine.notify import Notifier
from syncwright.engine.runtime import Runtime
from syncwright.engine.workflow import DbosEngine, DbosSubmitter
from syncwright.services.accounts import AccountService
from syncwright.services.alerts import AlertService
from syncwright.services.apply import ConfigService
from syncwright.services.connections import ConnectionService
from syncwright.services.metrics import exposition
from syncwright.services.objects import ObjectService
from syncwright.services.ports import RunSubmitter
from syncwright.services.report import ReportService
from syncwright.services.runs import RunService
from syncwright.services.syncs import SyncService
from syncwright.storage.retention_repo import Purged
from syncwright.storage.secrets import SecretBox, load_key
from syncwright.storage.store import Store

APPLICATION_VERSION = f"syncwright-{__version__}"


class EngineRole(StrEnum):
    """What this process does with runs."""

    NONE = "none"
    """Reads and configures only."""
    EXECUTE = "execute"
    """Runs the engine here (serve, or run --wait with no engine elsewhere)."""
    SUBMIT = "submit"
    """Enqueues runs for an engine in another process."""
    AUTO = "auto"
    """Execute when no other engine holds this home's engine lock, else submit."""


def _open_store(settings: Settings, migrate: bool) -> Store:
    """The store, upgraded: a URL that does not parse, a server that cannot be reached or a
    refused password is one line naming the store (its password masked), not a traceback."""
    box = SecretBox(load_key(settings.home, settings.secret_key))
    where = safe_url(settings.database_url)
    try:
        store = Store.open(settings.database_url, box)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(
            f"not a store URL: {where} ({exc})", field="SYNCWRIGHT_DATABASE_URL"
        ) from None
    except sa.exc.SQLAlchemyError as exc:
        raise StoreUnavailable(f"cannot open the store {where}: {database_message(exc)}") from None
    try:
        if migrate:
            store.upgrade()
        else:
            with store.engine.connect():
                pass
    except sa.exc.SQLAlchemyError as exc:
        store.close()
        raise StoreUnavailable(f"cannot open the store {where}: {database_message(exc)}") from None
    return store


class StoreUnavailable(SyncwrightError):
    """The store cannot be reached or refuses this process."""


class EngineBusy(Exception):
    """Another engine already runs on this home."""


@dataclass(frozen=True)
class WorkspaceServices:
    """The use cases of one workspace (what a request about that workspace acts through)."""

    workspace_id: str
    configs: ConfigService
    runs: RunService
    report: ReportService
    syncs: SyncService
    connections: ConnectionService
    objects: ObjectService
    alerts: AlertService


class App:
    def __init__(
        self, settings: Settings, *, role: EngineRole = EngineRole.NONE, migrate: bool = True
    ) -> None:
        self.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self.store = _open_store(settings, migrate)
        self.connectors = ConnectorRegistry(confinement=settings.confinement)
        self.workspace_id = self.store.config.ensure_workspace(settings.workspace)
        self._lock: IO[str] | None = None
        self.engine: DbosEngine | None = None
        submitter: RunSubmitter | None = None
        #: A command that runs here only what it starts (``run``, ``resync``, ``approve``
        #: with no engine on this home), not an engine serving every run.
        self.one_off = role is EngineRole.AUTO
        if role is EngineRole.AUTO:
            role = EngineRole.EXECUTE if self._take_lock() else EngineRole.SUBMIT
        elif role is EngineRole.EXECUTE and not self._take_lock():
            self.store.close()
            raise EngineBusy(f"another syncwright engine is running on {settings.home}")
        self.notifier = Notifier(settings.smtp)
        if role is EngineRole.EXECUTE:
            runtime = Runtime(
                store=self.store,
                connectors=self.connectors,
                work_dir=settings.work_dir,
                runner=f"{socket.gethostname()}:{os.getpid()}",
                retention=settings.retention,
            )
            self.engine = DbosEngine(
                runtime,
                system_database_url=settings.engine_database_url,
                application_version=APPLICATION_VERSION,
                executor_id=(
                    f"once-{socket.gethostname()}-{os.getpid()}"
                    if self.one_off
                    else settings.executor_id
                    or (f"{socket.gethostname()}-{os.getpid()}" if settings.is_postgres else None)
                ),
                one_off=self.one_off,
                worker_concurrency=settings.worker_concurrency,
                polling_interval=settings.poll_interval,
                purge_schedule=settings.purge_schedule,
                takeover_after=settings.takeover_after,
                shutdown_grace=settings.shutdown_grace,
                max_runs=settings.max_runs,
                alerting=Alerting(
                    self.store,
                    self.notifier,
                    policy=RetryPolicy(
                        retries=settings.alert_retries,
                        first_delay=settings.alert_retry_delay,
                        max_delay=max(settings.alert_retry_delay, 600.0),
                    ),
                    interval=settings.alert_interval,
                    public_url=settings.public_url,
                    wake=runtime.run_ended,
                ),
            )
            self.engine.launch()
            submitter = self.engine
        elif role is EngineRole.SUBMIT:
            self._submitter = DbosSubmitter(
                system_database_url=settings.engine_database_url,
                application_version=APPLICATION_VERSION,
            )
            submitter = self._submitter
        self.role = role
        self._submitter_port = submitter
        self.accounts = AccountService(self.store)
        own = self.in_workspace(self.workspace_id)
        self.configs, self.runs, self.report = own.configs, own.runs, own.report
        self.syncs = own.syncs

    def in_workspace(self, workspace_id: str) -> WorkspaceServices:
        """The services acting in one workspace (they are cheap: built per request)."""
        return WorkspaceServices(
            workspace_id=workspace_id,
            configs=ConfigService(
                self.store, self.connectors, workspace_id, smtp=self.settings.smtp is not None
            ),
            runs=RunService(
                self.store,
                self.connectors,
                workspace_id,
                self._submitter_port,
                work_dir=self.settings.work_dir,
            ),
            report=ReportService(self.store, workspace_id, self.settings.retention),
            syncs=SyncService(self.store, workspace_id),
            connections=ConnectionService(self.store, self.connectors, workspace_id),
            objects=ObjectService(
                self.store, self.connectors, workspace_id, self.settings.documents_dir
            ),
            alerts=AlertService(self.store, workspace_id, self.notifier),
        )

    def trigger_webhook(self, secret: str) -> Run:
        """Start a run of the sync (in whichever workspace) whose webhook secret this is."""
        sync_id = self.store.webhooks.sync_of(secret)
        if sync_id is None:
            raise NotFound("no such webhook")
        workspace_id = self.store.config.sync(sync_id).workspace_id
        return self.in_workspace(workspace_id).runs.trigger_webhook(secret)

    def metrics(self) -> bytes:
        """Prometheus metrics over the whole store (every process shows the same)."""
        return exposition(self.store.metrics, live_after=self.settings.takeover_after)

    def purge(self) -> Purged:
        """Apply the retention now (the engine also does on its schedule)."""
        return self.store.retention.purge(self.settings.retention, utcnow())

    def readiness(self) -> dict[str, str]:
        """Each check's outcome: ``ok`` or what failed."""
        checks: dict[str, str] = {}
        try:
            self.store.ping()
            checks["store"] = "ok"
        except Exception as exc:  # noqa: BLE001 (reported, not raised)
            checks["store"] = f"failed: {type(exc).__name__}: {exc}"
        if self.role is EngineRole.EXECUTE:
            checks["engine"] = (
                "ok"
                if self.engine is not None and self.engine.running
                else ("failed: the engine is not running")
            )
        return checks

    def _take_lock(self) -> bool:
        handle = open(self.settings.home / "engine.lock", "a+")  # noqa: SIM115 (held for the process)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._lock = handle
        return True

    def close(self) -> None:
        if self.engine is not None:
            self.engine.shutdown()
            self.engine = None
        if self.role is EngineRole.SUBMIT:
            self._submitter.shutdown()
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        self.store.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
