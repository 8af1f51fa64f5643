"""Settings from the environment, with the embedded defaults."""

from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from syncwright.domain.errors import ConfigError
from syncwright.domain.retention import Retention
from syncwright.engine.notify import Smtp
from syncwright.sdk.confinement import Confinement, sqlite_path


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Where syncwright keeps its data and how its engine runs.

    ``SYNCWRIGHT_HOME`` (default ``./.syncwright``) holds the SQLite store, the engine's SQLite
    system database and run work files. ``SYNCWRIGHT_DATABASE_URL=postgresql://...`` moves the
    store and the engine to PostgreSQL (the engine uses the schema ``dbos`` of that database).
    """

    home: Path
    database_url: str
    engine_database_url: str
    workspace: str = "default"
    worker_concurrency: int = 4
    poll_interval: float = 0.1
    executor_id: str | None = None
    retention: Retention = Retention()
    #: When the retention job runs (cron, UTC); once per tick across all workers.
    purge_schedule: str = "*/30 * * * *"
    #: Seconds a worker may stay silent before a live one takes its runs over.
    takeover_after: float = 60.0
    #: At most this many runs at once across all engines (None: no global cap).
    max_runs: int | None = None
    #: The key connector secrets are sealed with (base64 of 64 bytes); None: the home's
    #: ``secret.key``. Every process of one installation needs the same key.
    secret_key: str | None = None
    #: Seconds a stopping engine lets the runs in flight in it finish before it leaves them
    #: to another engine.
    shutdown_grace: float = 30.0
    #: Seconds between the self-refreshes of the web UI's live pages.
    ui_refresh: float = 15.0
    #: When set, ``/metrics`` asks for it as a bearer token.
    metrics_token: str | None = None
    #: How ``serve`` and ``worker`` log: ``text`` or ``json`` (one object per line).
    log_format: str = "text"
    log_level: str = "INFO"
    #: Seconds between two judgements of the alert rules (a run ending here judges at once).
    alert_interval: float = 30.0
    #: A notice that fails is tried again this many times, with backoff from
    #: ``alert_retry_delay`` seconds, then recorded undelivered.
    alert_retries: int = 5
    alert_retry_delay: float = 10.0
    #: The SMTP server of e-mail channels (None: e-mail channels cannot be created).
    smtp: Smtp | None = None
    #: The address people reach the web UI at, for links in notices (None: no links).
    public_url: str | None = None
    #: The only local directories connectors may read or write (SQLite files, file sources,
    #: feeds, SFTP staging and keys). The home, the store and the key are refused even inside
    #: one of them. Default: the folder holding the home, and the system's temporary folder.
    connector_paths: tuple[Path, ...] = ()
    #: The largest request body the HTTP server reads, in bytes; larger ones are refused with
    #: 413 before they are parsed or authenticated. Configuration documents
    #: (``POST /api/v1/workspaces/{id}/config``) may be up to ``max_config_body``.
    max_body: int = 1024 * 1024
    max_config_body: int = 16 * 1024 * 1024

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql", "postgres://"))

    @property
    def confinement(self) -> Confinement:
        """What connectors may reach: the connector paths, never the home (the store, the
        engine's database, the key, work files), the store's own file wherever it lives, nor
        the store's own network database."""
        files, databases = [self.home], []
        for url in (self.database_url, self.engine_database_url):
            path = sqlite_path(url)
            if path is not None:
                files.append(Path(path))
            elif not url.startswith("sqlite"):
                databases.append(url)
        return Confinement(
            allowed=self.connector_paths,
            forbidden=tuple(files),
            databases=tuple(databases),
        )

    @property
    def documents_dir(self) -> Path:
        """Where relative paths of a configuration document sent over HTTP are read from:
        the first connector path (never the home, which connectors may not use)."""
        return self.connector_paths[0] if self.connector_paths else self.home.parent

    @property
    def work_dir(self) -> Path:
        return self.home / "work"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("SYNCWRIGHT_HOME", ".syncwright")).resolve()
        database_url = env.get("SYNCWRIGHT_DATABASE_URL") or f"sqlite:///{home / 'syncwright.db'}"
        default_engine = (
            _plain_postgres(database_url)
            if database_url.startswith(("postgresql", "postgres://"))
            else f"sqlite:///{home / 'engine.db'}"
        )
        return cls(
            home=home,
            database_url=database_url,
            engine_database_url=env.get("SYNCWRIGHT_ENGINE_DATABASE_URL") or default_engine,
            workspace=env.get("SYNCWRIGHT_WORKSPACE", "default"),
            worker_concurrency=_number(env, "SYNCWRIGHT_WORKER_CONCURRENCY", 4, int),
            poll_interval=_number(env, "SYNCWRIGHT_POLL_INTERVAL", 0.1, float),
            executor_id=env.get("SYNCWRIGHT_EXECUTOR_ID") or None,
            retention=Retention(
                entry_days=_number(env, "SYNCWRIGHT_RETENTION_DAYS", 15, float),  # type: ignore[arg-type]
                payload_hours=_number(env, "SYNCWRIGHT_PAYLOAD_RETENTION_HOURS", 72, float),  # type: ignore[arg-type]
            ),
            purge_schedule=env.get("SYNCWRIGHT_PURGE_SCHEDULE") or "*/30 * * * *",
            takeover_after=_number(env, "SYNCWRIGHT_TAKEOVER_AFTER", 60.0, float),  # type: ignore[arg-type]
            max_runs=_number(env, "SYNCWRIGHT_MAX_RUNS", None, int),  # type: ignore[arg-type]
            secret_key=env.get("SYNCWRIGHT_SECRET_KEY") or None,
            shutdown_grace=_number(env, "SYNCWRIGHT_SHUTDOWN_GRACE", 30.0, float),  # type: ignore[arg-type]
            ui_refresh=_number(env, "SYNCWRIGHT_UI_REFRESH", 15.0, float),  # type: ignore[arg-type]
            metrics_token=env.get("SYNCWRIGHT_METRICS_TOKEN") or None,
            log_format=_choice(env, "SYNCWRIGHT_LOG_FORMAT", ("text", "json")),
            log_level=_choice(
                env, "SYNCWRIGHT_LOG_LEVEL", ("INFO", "DEBUG", "WARNING", "ERROR"), upper=True
            ),
            alert_interval=_number(env, "SYNCWRIGHT_ALERT_INTERVAL", 30.0, float),  # type: ignore[arg-type]
            alert_retries=_number(env, "SYNCWRIGHT_ALERT_RETRIES", 5, int),  # type: ignore[arg-type]
            alert_retry_delay=_number(env, "SYNCWRIGHT_ALERT_RETRY_DELAY", 10.0, float),  # type: ignore[arg-type]
            smtp=_smtp(env),
            public_url=(env.get("SYNCWRIGHT_PUBLIC_URL") or "").rstrip("/") or None,
            connector_paths=_directories(
                env, "SYNCWRIGHT_CONNECTOR_PATHS", (home.parent, Path(tempfile.gettempdir()))
            ),
            max_body=_number(env, "SYNCWRIGHT_MAX_BODY", 1024 * 1024, int),  # type: ignore[arg-type]
            max_config_body=_number(env, "SYNCWRIGHT_MAX_CONFIG_BODY", 16 * 1024 * 1024, int),  # type: ignore[arg-type]
        )


def _directories(env: Mapping[str, str], name: str, default: tuple[Path, ...]) -> tuple[Path, ...]:
    """Absolute directories, separated by ``os.pathsep``; a relative one is refused, naming the
    variable (it would depend on where a command happens to start)."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return tuple(p.resolve() for p in default)
    found = []
    for part in raw.split(os.pathsep):
        if not part.strip():
            continue
        path = Path(part.strip()).expanduser()
        if not path.is_absolute():
            raise ConfigError(f"must list absolute directories, got {part!r}", field=name)
        found.append(path.resolve())
    return tuple(found)


def _choice(
    env: Mapping[str, str], name: str, allowed: tuple[str, ...], *, upper: bool = False
) -> str:
    """One of ``allowed`` (the first when unset); anything else is refused, naming the
    variable."""
    value = env.get(name) or allowed[0]
    value = value.upper() if upper else value.lower()
    if value not in allowed:
        raise ConfigError(f"must be one of {', '.join(allowed)}, not {value!r}", field=name)
    return value


def _smtp(env: Mapping[str, str]) -> Smtp | None:
    host = env.get("SYNCWRIGHT_SMTP_HOST")
    if not host:
        return None
    tls = _choice(env, "SYNCWRIGHT_SMTP_TLS", ("none", "starttls", "ssl"))
    return Smtp(
        host=host,
        port=_number(env, "SYNCWRIGHT_SMTP_PORT", 465 if tls == "ssl" else 25, int),  # type: ignore[arg-type]
        sender=env.get("SYNCWRIGHT_SMTP_FROM") or f"syncwright@{socket.getfqdn()}",
        user=env.get("SYNCWRIGHT_SMTP_USER") or None,
        password=env.get("SYNCWRIGHT_SMTP_PASSWORD") or None,
        tls=tls,
    )


def _plain_postgres(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


def _number(env: Mapping[str, str], name: str, default: float, kind: type) -> object:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"must be a number, got {raw!r}", field=name) from None
    if value <= 0:
        raise ConfigError(f"must be above 0, got {raw!r}", field=name)
    return value
