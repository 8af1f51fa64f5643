"""A real PostgreSQL server for the tests, started on a free loopback port.

PostgreSQL refuses to run as root; when the tests run as root the server runs as the
``postgres`` system user that Debian's package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if found:
        return found[0]
    path = shutil.which(name)
    if path:
        return path
    raise RuntimeError(f"PostgreSQL's {name} was not found; install the 'postgresql' package")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self, *, durable: bool = False) -> None:
        #: Commits survive a crash of the server (the settings a production server has); the
        #: tests' shared server trades that for speed.
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="syncwright-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, cwd=self.root)

    def _options(self) -> str:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root}"
            " -c max_connections=200"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        return options

    def start(self) -> PostgresServer:
        self._run(
            _bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"
        )
        self._pg_ctl_start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not start")

    def restart(self) -> None:
        """Stop the server at once (as a crash would: no shutdown checkpoint, clients cut off)
        and start it again on the same port and data."""
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        self._pg_ctl_start()

    def _pg_ctl_start(self) -> None:
        log = str(self.root / "log")
        self._run(
            _bin("pg_ctl"), "-D", str(self.data), "-o", self._options(), "-l", log, "-w", "start"
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{suffix}')
        return self.url(name)

    def create_role(self, name: str, password: str) -> str:
        """A role that signs in with ``password`` over TCP (scram-sha-256; the server's other
        roles keep signing in without one), owning a database of its name; its URL (password
        included)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )
            conn.execute(sql.SQL("CREATE DATABASE {0} OWNER {0}").format(sql.Identifier(name)))
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"host all {name} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        self._run(_bin("pg_ctl"), "-D", str(self.data), "reload")
        # The server reads the file again in its own time: until it refuses the role without
        # its password.
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(f"postgresql://{name}@127.0.0.1:{self.port}/{name}").close()
            except psycopg.OperationalError:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL still lets {name} in without a password")
            time.sleep(0.05)
        return f"postgresql://{name}:{password}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
