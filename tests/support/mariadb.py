"""A real MariaDB server for the tests (Debian's mariadb-server), started on a free loopback
port with its own data directory in a temporary folder.

Its root user signs in without a password, from 127.0.0.1 only (the server listens on
nothing else). The SQL mode is the server's default, as Debian runs it
(``STRICT_TRANS_TABLES``: a value too long or out of range is an error, not a warning), and
the character set utf8mb4 as Debian's configuration sets it. Commits are not flushed to disk:
the tests' server trades durability for speed. MariaDB refuses to run as root; when the tests
run as root the server runs as the ``mysql`` system user that Debian's package creates.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.postgres import _free_port


def _bin(*names: str) -> str:
    for name in names:
        for folder in ("/usr/sbin", "/usr/bin"):
            if os.access(f"{folder}/{name}", os.X_OK):
                return f"{folder}/{name}"
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(f"MariaDB's {names[0]} was not found; install the 'mariadb-server' package")


class MariaDbServer:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="syncwright-mariadb-"))
        self.data = self.root / "data"
        self.socket = self.root / "mariadb.sock"
        self.log = self.root / "error.log"
        self.port = _free_port()
        self.user: list[str] = []
        self._process: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            mysql = pwd.getpwnam("mysql")
            os.chown(self.root, mysql.pw_uid, mysql.pw_gid)
            self.user = ["--user=mysql"]

    def start(self) -> MariaDbServer:
        subprocess.run(
            [
                _bin("mariadb-install-db", "mysql_install_db"),
                "--no-defaults",
                f"--datadir={self.data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
                *self.user,
            ],
            check=True,
            capture_output=True,
            cwd=self.root,
        )
        self._process = subprocess.Popen(
            [
                _bin("mariadbd", "mysqld"),
                "--no-defaults",
                *self.user,
                f"--datadir={self.data}",
                f"--socket={self.socket}",
                f"--pid-file={self.root / 'mariadb.pid'}",
                f"--log-error={self.log}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
                "--max-connections=200",
                # Fast, not durable.
                "--skip-log-bin",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
                "--innodb-buffer-pool-size=64M",
                "--performance-schema=OFF",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.root,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"MariaDB did not start:\n{self._log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"MariaDB did not accept connections within 60 s:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no log)"

    def url(self, database: str = "", *, user: str = "root", password: str = "") -> str:
        secret = f":{password}" if password else ""
        return f"mysql+pymysql://{user}{secret}@127.0.0.1:{self.port}/{database}"

    def execute(self, *statements: str, database: str | None = None) -> None:
        """Run statements as root (in autocommit)."""
        import pymysql

        conn = pymysql.connect(
            host="127.0.0.1", port=self.port, user="root", database=database, autocommit=True
        )
        try:
            with conn.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        finally:
            conn.close()

    def create_database(self, name: str) -> str:
        self.execute(f"CREATE DATABASE `{name}`")
        return self.url(name)

    def create_user(self, name: str, password: str, *grants: str) -> str:
        """A user signing in from 127.0.0.1 with ``password``, granted ``grants`` (e.g.
        ``SELECT ON shop.*``); its URL, without a database."""
        self.execute(
            f"CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY '{password}'",
            *(f"GRANT {grant} TO '{name}'@'127.0.0.1'" for grant in grants),
        )
        return self.url(user=name, password=password)

    def stop(self) -> None:
        try:
            if self._process is not None and self._process.poll() is None:
                self._process.send_signal(signal.SIGTERM)
                try:
                    self._process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
        finally:
            self._process = None
            shutil.rmtree(self.root, ignore_errors=True)
