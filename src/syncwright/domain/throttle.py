"""Throttling guesses: failed sign-ins per account and per client address, invalid API tokens
per client address.

A pure policy over the failures counted under one key decides whether the next attempt may
be checked now: a few failures are free, then each one makes the next attempt wait (the wait
doubling), and enough of them lock the key for a while. Attempts refused during a wait are
failures too (a guesser hammering away reaches the lock as fast as one who waits); attempts
refused by a lock are not counted, so a lock is never extended and ends on time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Mapping

from syncwright.domain.clock import as_utc


class ThrottleKind(StrEnum):
    """What the failures of a key were counted against."""

    ACCOUNT = "account"
    """Sign-ins to one e-mail (known or not: an unknown one is throttled the same way)."""
    ADDRESS = "address"
    """Sign-ins from one client address, whatever the e-mail."""
    TOKEN = "token"
    """Invalid API tokens from one client address."""


@dataclass(frozen=True, order=True)
class ThrottleKey:
    """Where failures are counted: ``account:<email>``, ``address:<ip>``, ``token:<ip>``."""

    kind: ThrottleKind
    key: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.key}"


@dataclass(frozen=True, kw_only=True)
class Failures:
    """The failed attempts counted under one key since its count (re)started."""

    count: int
    first_at: datetime
    last_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Failures:
        return cls(
            count=row["failures"],
            first_at=as_utc(row["first_at"]),
            last_at=as_utc(row["last_at"]),
        )


@dataclass(frozen=True, kw_only=True)
class ThrottleDecision:
    """May an attempt be checked now? If not, ``until`` when it may; ``locked`` when that is
    a lock (which an admin can lift) rather than a short wait."""

    allowed: bool
    until: datetime | None = None
    locked: bool = False

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the next attempt may be checked (at least 1 when refused)."""
        if self.allowed or self.until is None:
            return 0
        return max(1, math.ceil((self.until - now).total_seconds()))


ALLOWED = ThrottleDecision(allowed=True)


@dataclass(frozen=True, kw_only=True)
class Recorded:
    """One more failure under a key: the count now, and whether this failure started a lock.
    ``counted`` is False when the key was locked already (a lock is not extended)."""

    failures: Failures
    counted: bool = True
    locked: bool = False


@dataclass(frozen=True, kw_only=True)
class ThrottlePolicy:
    """``free`` failures are answered at once; after failure ``n`` (beyond the free ones) the
    next attempt waits ``first_delay * 2 ** (n - free - 1)``, at most ``max_delay``; failure
    ``lock_after`` locks the key for ``lock_for``. A count with no lock starts again
    ``forget_after`` after its first failure, and once its lock has run out."""

    free: int = 5
    first_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=1)
    lock_after: int = 10
    lock_for: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.free < 0:
            raise ValueError("free must be 0 or more")
        if self.lock_after <= self.free:
            raise ValueError("lock_after must be above free")
        for name in ("first_delay", "max_delay", "lock_for", "forget_after"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be above 0")

    def current(self, failures: Failures | None, now: datetime) -> Failures | None:
        """The count that still holds at ``now``: None once forgotten or its lock ran out."""
        if failures is None or failures.count <= 0:
            return None
        if failures.count >= self.lock_after:
            return failures if now < failures.last_at + self.lock_for else None
        return failures if now < failures.first_at + self.forget_after else None

    def delay(self, count: int) -> timedelta:
        """How long the attempt after the ``count``-th failure waits (0 while free)."""
        if count <= self.free:
            return timedelta(0)
        return min(self.first_delay * 2 ** (count - self.free - 1), self.max_delay)

    def decide(self, failures: Failures | None, now: datetime) -> ThrottleDecision:
        """Whether an attempt under this key may be checked at ``now``."""
        found = self.current(failures, now)
        if found is None:
            return ALLOWED
        if found.count >= self.lock_after:
            return ThrottleDecision(allowed=False, until=found.last_at + self.lock_for, locked=True)
        until = found.last_at + self.delay(found.count)
        if now < until:
            return ThrottleDecision(allowed=False, until=until)
        return ALLOWED

    def record(self, failures: Failures | None, now: datetime) -> Recorded:
        """The count after one more failure at ``now``."""
        found = self.current(failures, now)
        if found is None:
            return Recorded(
                failures=Failures(count=1, first_at=now, last_at=now), locked=self.lock_after == 1
            )
        if found.count >= self.lock_after:
            return Recorded(failures=found, counted=False)
        count = found.count + 1
        return Recorded(
            failures=Failures(count=count, first_at=found.first_at, last_at=now),
            locked=count >= self.lock_after,
        )

    @property
    def kept_for(self) -> timedelta:
        """A count whose last failure is older than this holds nothing any more."""
        return max(self.forget_after, self.lock_for)


@dataclass(frozen=True, kw_only=True)
class Throttles:
    """The policy of each kind of key. Addresses are shared by everyone behind one proxy or
    office network, so they get more free failures than an account."""

    account: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    address: ThrottlePolicy = field(default_factory=lambda: ThrottlePolicy(free=20, lock_after=40))
    token: ThrottlePolicy = field(default_factory=lambda: ThrottlePolicy(free=10, lock_after=30))

    def policy(self, kind: ThrottleKind) -> ThrottlePolicy:
        return {
            ThrottleKind.ACCOUNT: self.account,
            ThrottleKind.ADDRESS: self.address,
            ThrottleKind.TOKEN: self.token,
        }[kind]


def strictest(
    decisions: Mapping[ThrottleKey, ThrottleDecision],
) -> tuple[ThrottleKey, ThrottleDecision] | None:
    """The refusal that matters most among several keys' decisions (a lock before a wait,
    then the longest), or None when every key allows the attempt."""
    refused = [(k, d) for k, d in decisions.items() if not d.allowed]
    if not refused:
        return None
    never = datetime.min.replace(tzinfo=UTC)
    return max(refused, key=lambda kd: (kd[1].locked, kd[1].until or never, kd[0]))


def in_words(seconds: int) -> str:
    """``45 seconds``, ``1 minute``, ``14 minutes``: a wait as a person reads it (minutes
    rounded up, so nobody comes back too early)."""
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"
