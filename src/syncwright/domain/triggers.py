"""What starts a sync's runs besides a person: a schedule (an interval or a cron in a time
zone), other syncs finishing, edits of its configuration, a webhook. Pure: times in, times out."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from syncwright.domain.errors import ConfigError
from syncwright.domain.statuses import Trigger

#: Order among runs waiting for capacity (lower first): runs people ask for go ahead of
#: automatic ones.
PRIORITY = {
    Trigger.MANUAL: 1,
    Trigger.WEBHOOK: 2,
    Trigger.RESYNC: 2,
    Trigger.RETRY: 3,
    Trigger.CHANGE: 4,
    Trigger.AFTER: 4,
    Trigger.SCHEDULE: 5,
}

_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_every(text: str | float, field: str = "every") -> float:
    """``"15m"``, ``"1h"``, ``"30s"``, ``"2d"`` or a number of seconds."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        found = _EVERY.match(text)
        if not found:
            raise ConfigError(f"not a duration: {text!r} (e.g. 30s, 15m, 1h, 1d)", field=field)
        seconds = float(found.group(1)) * _UNITS[found.group(2)]
    if seconds < 1:
        raise ConfigError("must be at least 1 second", field=field)
    return seconds


class Missed(StrEnum):
    """What a schedule does with ticks missed while no engine ran."""

    ONCE = "once"
    """Run once for all of them, then carry on."""
    SKIP = "skip"
    """Record the missed run as skipped and wait for the next tick."""


class WhenBusy(StrEnum):
    """What a trigger does while a run of the sync is live."""

    QUEUE = "queue"
    """Queue the new run behind the live one."""
    SKIP = "skip"
    """Record the new run as skipped."""


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """Every ``every`` seconds, or a cron expression read in ``timezone``. Interval ticks are
    aligned on the clock from the Unix epoch, shifted by a stable phase drawn from a key (the
    sync's id), so that many syncs on the same interval do not all start in the same second.
    Each wall-clock time runs once: a time that does not exist on the
    day clocks go forward runs when the gap ends; one that happens twice when they go back runs
    the first time."""

    every: float | None = None
    cron: str | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise ConfigError("give either every or cron", field="schedule")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"unknown time zone {self.timezone!r}", field="timezone") from None
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ConfigError(f"not a cron expression: {self.cron!r}", field="cron")

    def next_after(self, moment: datetime, key: str = "") -> datetime:
        """The first tick strictly after ``moment`` (UTC in, UTC out); ``key`` sets the phase
        of an interval (none without a key)."""
        if self.every is not None:
            start = _EPOCH + timedelta(seconds=self.phase(key))
            elapsed = (moment - start).total_seconds()
            ticks = int(elapsed // self.every) + 1
            return start + timedelta(seconds=ticks * self.every)
        zone = ZoneInfo(self.timezone)
        wall = moment.astimezone(zone).replace(tzinfo=None)
        times = croniter(self.cron, wall)
        while True:
            candidate = times.get_next(datetime)
            found = _existing(candidate, zone)
            if found > moment:
                return found

    def phase(self, key: str) -> float:
        """A whole number of seconds in [0, every) that depends on ``key`` only."""
        if not key or self.every is None:
            return 0.0
        digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
        return float(digest % max(1, int(self.every)))

    def describe(self) -> str:
        if self.every is not None:
            return f"every {_duration(self.every)}"
        return f"cron {self.cron} ({self.timezone})"


def _existing(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time: the first of two when clocks go back, the end of
    the gap when the time does not exist."""
    for minutes in range(0, 24 * 60):
        local = (wall + timedelta(minutes=minutes)).replace(tzinfo=zone, fold=0)
        instant = local.astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
            return instant
    raise ValueError(f"no existing time near {wall} in {zone}")  # pragma: no cover


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True, kw_only=True)
class Triggers:
    """A sync's triggers; a person (or program) can always start a run too."""

    schedule: Schedule | None = None
    missed: Missed = Missed.ONCE
    #: Names of the syncs whose runs start this one when they end in one of ``after_statuses``.
    after: tuple[str, ...] = ()
    after_statuses: tuple[str, ...] = ("succeeded",)
    #: Edits of the sync or its model start a run, ``debounce`` seconds after the last edit.
    on_change: bool = False
    debounce: float = 30.0
    #: A secret URL starts a run (served by the API).
    webhook: bool = False
    when_busy: WhenBusy = WhenBusy.QUEUE
    #: Abort a run still going after this many seconds.
    timeout: float | None = None
    #: Disable the sync after this many failed runs in a row.
    disable_after_failures: int | None = None

    @classmethod
    def from_settings(cls, raw: dict[str, object]) -> Triggers:
        schedule = raw.get("schedule")
        return cls(
            schedule=Schedule(**schedule) if isinstance(schedule, dict) else None,
            missed=Missed(str(raw.get("missed", Missed.ONCE))),
            after=tuple(raw.get("after", ())),  # type: ignore[arg-type]
            after_statuses=tuple(raw.get("after_statuses", ("succeeded",))),  # type: ignore[arg-type]
            on_change=bool(raw.get("on_change", False)),
            debounce=float(raw.get("debounce", 30.0)),  # type: ignore[arg-type]
            webhook=bool(raw.get("webhook", False)),
            when_busy=WhenBusy(str(raw.get("when_busy", WhenBusy.QUEUE))),
            timeout=raw.get("timeout"),  # type: ignore[arg-type]
            disable_after_failures=raw.get("disable_after_failures"),  # type: ignore[arg-type]
        )

    def describe(self) -> str:
        parts = [self.schedule.describe()] if self.schedule else []
        if self.after:
            parts.append(f"after {', '.join(self.after)}")
        if self.on_change:
            parts.append("on change")
        if self.webhook:
            parts.append("webhook")
        return "; ".join(parts) or "manual"
