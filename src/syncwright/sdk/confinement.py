"""What connectors may reach on this machine.

A workspace's admin configures connectors, and is a tenant: nothing they configure may read or
write the installation's own files (its home, its store and the store's WAL and SHM files, its
key) or its own PostgreSQL database, and local files only inside the directories the
installation allows (``SYNCWRIGHT_CONNECTOR_PATHS``). Every local path is judged after
resolving symlinks and ``..``, so neither leads around the rule.

A connector declares the local paths in its settings by typing them ``LocalPath`` (or by
overriding ``ConnectorConfig.local_paths``) and its database URLs by overriding
``ConnectorConfig.database_urls``; the platform checks both whenever it builds the connector,
at apply time and again at run time. A connector that finds more paths while it runs (the files
a glob matches) checks each with ``self.confinement.check_path`` before opening it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import socket
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Iterable

from syncwright.domain.errors import ConfigError

if TYPE_CHECKING:
    import duckdb

    from syncwright.sdk.config import ConnectorConfig


class LocalPathField:
    """Marks a settings field holding a path on this machine."""


#: The type of a settings field holding a path on this machine (a file, folder or glob).
LocalPath = Annotated[str, LocalPathField()]

#: The files SQLite keeps beside a database while it is open.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}


def real(path: str | Path) -> Path:
    """``path`` with ``~``, relative parts and every symlink resolved (as far as it exists)."""
    return Path(os.path.realpath(os.path.expanduser(str(path))))


@dataclass(frozen=True, kw_only=True)
class Confinement:
    """The local paths and databases connectors may use.

    ``allowed``: the directories connectors may use (None: anywhere, for a connector used on
    its own, outside an installation). ``forbidden``: the installation's own files and folders,
    refused even inside an allowed directory. ``databases``: the URLs of the installation's own
    databases, refused as a connector's URL.
    """

    allowed: tuple[Path, ...] | None = None
    forbidden: tuple[Path, ...] = ()
    databases: tuple[str, ...] = field(default=(), repr=False)
    #: The setting that lists ``allowed``, named when a path is outside it.
    setting: str = "SYNCWRIGHT_CONNECTOR_PATHS"
    _forbidden_real: tuple[Path, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        found: list[Path] = []
        for path in self.forbidden:
            resolved = real(path)
            found.append(resolved)
            if not resolved.is_dir():
                found.extend(resolved.with_name(resolved.name + c) for c in SQLITE_COMPANIONS)
        object.__setattr__(self, "_forbidden_real", tuple(found))

    # -- local paths ------------------------------------------------------------------------
    def check_path(self, path: str | Path, *, field: str) -> Path:
        """The real path of ``path`` when connectors may use it; else ConfigError naming
        ``field``. A glob is judged by the folder it starts from and by each file it matches
        now (a connector checks each match again when it opens it)."""
        text = str(path)
        if glob.has_magic(text):
            for match in glob.glob(os.path.expanduser(text)):
                self._judge(text, real(match), field)
            return self._judge(text, real(_glob_base(text)), field)
        return self._judge(text, real(text), field)

    def _judge(self, text: str, resolved: Path, field: str) -> Path:
        for own in self._forbidden_real:
            if resolved == own or resolved.is_relative_to(own):
                raise ConfigError(
                    # The message names the path given, not which of the installation's
                    # files it reached: a tenant learns nothing of where they are.
                    f"{text} reaches the installation's own files; connectors may not use them",
                    field=field,
                )
        if self.allowed is not None and not any(
            resolved == allowed or resolved.is_relative_to(allowed) for allowed in self.allowed
        ):
            listed = ", ".join(str(p) for p in self.allowed) or "none"
            raise ConfigError(
                f"{text} is outside the directories connectors may use ({self.setting}: {listed})",
                field=field,
            )
        return resolved

    # -- databases --------------------------------------------------------------------------
    def check_database_url(self, url: str, *, field: str) -> None:
        """Refuse a database URL naming a file connectors may not use, or the installation's
        own database; ConfigError naming ``field``."""
        from sqlalchemy.engine import make_url

        try:
            parsed = make_url(url)
        except Exception:
            return  # the connector reports a URL it cannot read
        backend = parsed.get_backend_name()
        if backend in ("sqlite", "duckdb"):
            path = sqlite_path(url)
            if path is not None:
                self.check_path(path, field=field)
            return
        target = _address(url)
        if target is None:
            return
        for own in self.databases:
            mine = _address(own)
            if mine is not None and _same_database(target, mine):
                raise ConfigError(
                    "names the installation's own database; connectors may not use it",
                    field=field,
                )

    def check_config(self, config: ConnectorConfig, *, where: str = "config") -> None:
        """Check every local path and database URL a connector's settings hold."""
        for name, path in config.local_paths().items():
            self.check_path(path, field=f"{where}.{name}")
        for name, url in config.database_urls().items():
            self.check_database_url(url, field=f"{where}.{name}")


def sandboxed_duckdb(
    *, readable: Iterable[str | Path] = (), writable_directories: Iterable[str | Path] = ()
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for SQL a person wrote: no file, network or extension access but
    the ``readable`` files (and files inside ``writable_directories``), and its configuration
    locked, so no query can turn any of it back on."""
    import duckdb

    db = duckdb.connect()
    try:
        files = [str(real(p)) for p in readable]
        if files:
            db.execute("SET allowed_paths = ?", [files])
        folders = [str(real(p)) + os.sep for p in writable_directories]
        if folders:
            db.execute("SET allowed_directories = ?", [folders])
        db.execute("SET autoinstall_known_extensions = false")
        db.execute("SET autoload_known_extensions = false")
        db.execute("SET enable_external_access = false")
        db.execute("SET lock_configuration = true")
    except BaseException:
        db.close()
        raise
    return db


def sqlite_path(url: str) -> str | None:
    """The file a SQLite (or DuckDB) URL opens, ``file:`` URIs included; None for memory and
    for any other database."""
    from urllib.parse import unquote, urlsplit

    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return None
    database = parsed.database
    if parsed.get_backend_name() not in ("sqlite", "duckdb"):
        return None
    if not database or database.startswith(":memory:") or parsed.query.get("mode") == "memory":
        return None
    if database.startswith("file:"):
        parts = urlsplit(database)
        path = unquote(parts.path)
        if not path or path == ":memory:" or "mode=memory" in parts.query:
            return None
        return path
    return database


@dataclass(frozen=True)
class _Address:
    backend: str
    hosts: frozenset[str]
    port: int
    database: str


def _address(url: str) -> _Address | None:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return None
    backend = parsed.get_backend_name()
    if backend in ("postgres",):
        backend = "postgresql"
    host = parsed.host or str(parsed.query.get("host") or "") or None
    database = parsed.database or str(parsed.query.get("dbname") or "") or parsed.username or ""
    port = parsed.port or _int(parsed.query.get("port")) or DEFAULT_PORTS.get(backend, 0)
    return _Address(backend=backend, hosts=_hosts(host), port=port, database=database)


def _int(value: object) -> int | None:
    try:
        return int(str(value)) if value else None
    except ValueError:
        return None


@cache
def _local_addresses() -> frozenset[str]:
    found = {"127.0.0.1", "::1", "localhost"}
    with contextlib.suppress(OSError):
        found.update(socket.gethostbyname_ex(socket.gethostname())[2])
    return frozenset(found)


@cache
def _hosts(host: str | None) -> frozenset[str]:
    """The addresses a host name stands for; this machine's own ones (a Unix socket, a
    loopback or local address) all as ``local``."""
    if host is None or host.startswith("/") or host == "":
        return frozenset({"local"})
    names: set[str] = set()
    for part in host.split(","):  # libpq allows several hosts
        try:
            infos = socket.getaddrinfo(part, None)
            names.update(str(info[4][0]) for info in infos)
        except OSError:
            names.add(part.lower())
    local = _local_addresses()
    return frozenset(
        "local" if name in local or name.startswith("127.") else name for name in names
    )


def _same_database(one: _Address, other: _Address) -> bool:
    return (
        one.backend == other.backend
        and one.port == other.port
        and one.database == other.database
        and bool(one.hosts & other.hosts)
    )


def _glob_base(pattern: str) -> str:
    """The folder a glob starts from: its parts before the first with a wildcard."""
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else "."
