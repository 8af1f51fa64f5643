"""Driving the command line as a user would: real processes in a test's folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

CLI = [sys.executable, "-m", "syncwright"]


def release(version: str) -> list[str]:
    """The command line of syncwright installed under another application version (the
    release a deploy upgrades from): the same code, naming its engine's version otherwise."""
    return [
        sys.executable,
        "-c",
        "import syncwright.bootstrap.app as app;"
        f" app.APPLICATION_VERSION = {version!r};"
        " from syncwright.cli.app import main; main()",
    ]


def environment(folder: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SYNCWRIGHT_HOME": str(folder / "home"),
        "SYNCWRIGHT_POLL_INTERVAL": "0.05",
        "COLUMNS": "200",
        **extra,
    }


def sw(
    tmp_path: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CLI, *args],
        cwd=tmp_path,
        env=environment(tmp_path, **(env or {})),
        capture_output=True,
        text=True,
        timeout=180,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def start_engine(
    folder: Path,
    *,
    command: tuple[str, ...] = ("serve", "--port", "0"),
    cli: list[str] = CLI,
    **env: str,
) -> subprocess.Popen[str]:
    """``syncwright serve`` (or ``command``) in the background, once it says it is running.
    Its log goes to ``engines.log`` in the folder (a pipe nobody reads would fill up and
    block the engine's next log line)."""
    return _launch(folder, command, cli, env)[0]


def start_server(folder: Path, **env: str) -> tuple[subprocess.Popen[str], str]:
    """``syncwright serve`` on a free loopback port, as ``start_engine`` starts it; the process
    and the base URL it serves (``http://127.0.0.1:<port>``)."""
    server, said = _launch(folder, ("serve", "--port", "0"), CLI, env)
    found = re.search(r"web UI at (http://127\.0\.0\.1:\d+)/", said)
    assert found, said
    return server, found.group(1)


def _launch(
    folder: Path, command: tuple[str, ...], cli: list[str], env: dict[str, str]
) -> tuple[subprocess.Popen[str], str]:
    with open(folder / "engines.log", "a") as log:
        engine = subprocess.Popen(
            [*cli, *command],
            cwd=folder,
            env=environment(folder, **env),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    said = engine.stdout.readline() if engine.stdout else ""
    assert "engine running" in said, said
    return engine, said


def wait_for(check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not true within {timeout} s")


def read_until(process: subprocess.Popen[str], text: str, timeout: float = 60) -> str:
    """What ``process`` printed on its standard output up to the line saying ``text``, which
    it must within ``timeout`` seconds (a state the test can wait on, such as "stopping: no
    new work" after a SIGTERM)."""
    lines: list[str] = []

    def read() -> None:
        for line in process.stdout or ():
            lines.append(line)
            if text in line:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    said = "".join(lines)
    assert text in said, f"not said within {timeout} s: {text!r}; said: {said!r}"
    return said
