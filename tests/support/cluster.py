"""Several ``syncwright worker`` processes sharing one PostgreSQL store, driven as an operator
would: start, kill -9, stop, and the CLI pointed at a live worker."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.support.chaos import list_runs, settled
from tests.support.cli import start_engine, sw
from tests.support.postgres import PostgresServer


class Cluster:
    """Three ``syncwright worker`` processes sharing one store, each with its own home."""

    def __init__(self, folder: Path, server: PostgresServer, **env: str) -> None:
        self.folder = folder
        name = folder.name[-12:].lower()
        self.store_url = server.create_database(f"cluster_{name}")
        self.env = {
            "SYNCWRIGHT_DATABASE_URL": self.store_url,
            "SYNCWRIGHT_TAKEOVER_AFTER": "3",
            **env,
        }
        self.workers: dict[str, subprocess.Popen[str]] = {}

    def home(self, name: str) -> dict[str, str]:
        return {**self.env, "SYNCWRIGHT_HOME": str(self.folder / name / "home")}

    def start(self, *names: str) -> None:
        for name in names:
            self.workers[name] = start_engine(self.folder, command=("worker",), **self.home(name))

    def cli_env(self) -> dict[str, str]:
        """A live worker's home: the command hands its runs to the workers."""
        alive = [n for n, p in self.workers.items() if p.poll() is None]
        return self.home(alive[0])

    def sw(self, *args: str) -> str:
        return sw(self.folder, *args, env=self.cli_env()).stdout

    def runs(self) -> list[dict]:
        return list_runs(self.folder, self.cli_env())

    def settled(self) -> list[dict]:
        return settled(self.folder, self.cli_env(), timeout=180)

    def owner(self, run: dict) -> str:
        pid = int(run["runner"].rsplit(":", 1)[1])
        return next(n for n, p in self.workers.items() if p.pid == pid)

    def kill(self, *names: str) -> None:
        for name in names:
            os.kill(self.workers[name].pid, signal.SIGKILL)
        for name in names:
            self.workers[name].wait(timeout=30)

    def stop(self) -> None:
        for process in self.workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers.values():
            process.wait(timeout=60)
