"""One SQLite library per SQLite file per process.

SQLite's locks are POSIX locks, which belong to a process and a file: closing *any* descriptor
of a file drops every lock the process holds on it. SQLite copes with that inside one library,
but the ADBC driver bundles a second SQLite library: when it opens and closes a file that
Python's ``sqlite3`` has open in the same process, ``sqlite3``'s locks are gone, another process
then believes nobody has the file open, deletes its WAL and SHM files, and the database ends
"malformed". So, in a process, a file is open through one library at a time: the fast ADBC
reader takes a file only while ``sqlite3`` does not have it open here (otherwise it reads through
``sqlite3``), and ``sqlite3`` waits for the ADBC readers of a file to let go before opening it.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Literal

Library = Literal["sqlite3", "adbc"]

_changed = threading.Condition()
_holders: dict[str, Counter[Library]] = {}
_waiting: Counter[str] = Counter()


def _key(path: str | Path) -> str:
    return os.path.realpath(os.path.expanduser(str(path)))


def _other(library: Library) -> Library:
    return "adbc" if library == "sqlite3" else "sqlite3"


def _take(key: str, library: Library) -> Callable[[], None]:
    _holders.setdefault(key, Counter())[library] += 1
    released = False

    def release() -> None:
        nonlocal released
        with _changed:
            if released:
                return
            released = True
            held = _holders[key]
            held[library] -= 1
            if held[library] <= 0:
                del held[library]
            if not held:
                del _holders[key]
            _changed.notify_all()

    return release


def try_hold(path: str | Path, library: Library = "adbc") -> Callable[[], None] | None:
    """Hold ``path`` for ``library`` if no other library has it (or waits for it) in this
    process; the release function, or None."""
    key = _key(path)
    with _changed:
        if _holders.get(key, Counter())[_other(library)] or _waiting[key]:
            return None
        return _take(key, library)


def hold(
    path: str | Path, library: Library = "sqlite3", *, timeout: float = 600.0
) -> Callable[[], None]:
    """Hold ``path`` for ``library``, waiting until the other library lets go of it; the
    release function. TimeoutError after ``timeout`` seconds."""
    key = _key(path)
    deadline = time.monotonic() + timeout
    with _changed:
        _waiting[key] += 1
        try:
            while _holders.get(key, Counter())[_other(library)]:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{path} stayed open through another SQLite library")
                _changed.wait(left)
            return _take(key, library)
        finally:
            _waiting[key] -= 1
            if not _waiting[key]:
                del _waiting[key]


@contextmanager
def held(path: str | Path, library: Library = "sqlite3") -> Iterator[None]:
    """``hold`` for the length of a ``with`` block."""
    release = hold(path, library)
    try:
        yield
    finally:
        release()


def waiting(path: str | Path) -> int:
    """How many openers wait for ``path`` in this process (for tests)."""
    with _changed:
        return _waiting[_key(path)]


def holders(path: str | Path) -> dict[str, int]:
    """Which libraries have ``path`` open in this process, and how many times (for tests)."""
    with _changed:
        return {library: n for library, n in _holders.get(_key(path), Counter()).items()}
