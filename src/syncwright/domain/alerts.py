"""Alert rules and what they judge: pure conditions over a sync's recent runs.

A rule watches one sync or every sync of a workspace. Its condition is a level, judged again
and again: while it holds, the (rule, sync) pair has one open incident, notified once; when it
stops holding, the incident closes and a recovery notice goes out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from syncwright.domain.errors import ConfigError
from syncwright.domain.statuses import RunStatus


class Condition(StrEnum):
    """What a rule watches."""

    RUN_FAILED = "run_failed"
    """The sync's last run failed."""
    RUN_INCOMPLETE = "run_incomplete"
    """The sync's last run ended incomplete."""
    FAILED_ENTRIES = "failed_entries"
    """The last delivering run's failed entries are above a count or a share of its
    changes."""
    FRESHNESS = "freshness"
    """No run succeeded for longer than a duration."""
    DURATION = "duration"
    """A run lasts (or lasted) longer than a duration."""
    VOLUME = "volume"
    """The rows the last run read deviate from the recent norm by more than a share."""


class ChannelType(StrEnum):
    """Where notices go."""

    WEBHOOK = "webhook"
    """A JSON POST signed with HMAC-SHA256."""
    SLACK = "slack"
    """A Slack-compatible incoming webhook (``{"text": ...}``)."""
    EMAIL = "email"
    """E-mail over the installation's SMTP server."""


class Event(StrEnum):
    """Which notice of an incident."""

    FIRING = "firing"
    RESOLVED = "resolved"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Not sent yet, or waiting to be tried again."""
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    """The channel refused or was unreachable for every attempt."""


#: Runs that ran to an end (aborted ones were stopped by a person or a timeout).
RAN = frozenset({RunStatus.SUCCEEDED, RunStatus.INCOMPLETE, RunStatus.FAILED})


@dataclass(frozen=True, kw_only=True)
class Thresholds:
    """The settings a condition needs; the others stay None."""

    #: failed_entries: more failed entries than this.
    failed_above: int | None = None
    #: failed_entries: a larger share (0-1) of the run's changes failed than this.
    failed_share_above: float | None = None
    #: freshness: seconds without a succeeded run.
    max_age: float | None = None
    #: duration: seconds a run may last.
    max_duration: float | None = None
    #: volume: the largest allowed deviation (0.5 = 50 %) from the mean of recent runs.
    deviation: float | None = None
    #: volume: how many earlier runs make the norm (at least 3 are needed to judge).
    lookback: int = 10

    def as_dict(self) -> dict[str, float | int]:
        found = {
            "failed_above": self.failed_above,
            "failed_share_above": self.failed_share_above,
            "max_age": self.max_age,
            "max_duration": self.max_duration,
            "deviation": self.deviation,
        }
        out: dict[str, float | int] = {k: v for k, v in found.items() if v is not None}
        if self.deviation is not None:
            out["lookback"] = self.lookback
        return out


#: Which settings each condition needs (one of them at least, for failed_entries).
NEEDS: dict[Condition, tuple[str, ...]] = {
    Condition.RUN_FAILED: (),
    Condition.RUN_INCOMPLETE: (),
    Condition.FAILED_ENTRIES: ("failed_above", "failed_share_above"),
    Condition.FRESHNESS: ("max_age",),
    Condition.DURATION: ("max_duration",),
    Condition.VOLUME: ("deviation",),
}

#: Fewest earlier runs the volume condition compares with.
MIN_HISTORY = 3


def check_thresholds(condition: Condition, t: Thresholds) -> None:
    """Refuse settings the condition does not use, or a missing one, naming the field."""
    needed = NEEDS[condition]
    given = {k for k in t.as_dict() if k != "lookback"}
    for name in sorted(given - set(needed)):
        raise ConfigError(f"is not a setting of {condition.value}", field=name)
    if needed and not given:
        raise ConfigError(f"{condition.value} needs {' or '.join(needed)}", field=needed[0])
    if t.failed_above is not None and t.failed_above < 0:
        raise ConfigError("must be 0 or more", field="failed_above")
    for name in ("failed_share_above", "deviation"):
        value = getattr(t, name)
        if value is not None and not 0 <= value <= 10:
            raise ConfigError("must be a share such as 0.2 (20 %)", field=name)
    if t.lookback < MIN_HISTORY or t.lookback > 100:
        raise ConfigError(f"must be between {MIN_HISTORY} and 100", field="lookback")


@dataclass(frozen=True, kw_only=True)
class AlertRule:
    id: str
    workspace_id: str
    name: str
    condition: Condition
    #: The sync watched; None: every sync of the workspace.
    sync_id: str | None
    thresholds: Thresholds
    channel_ids: tuple[str, ...]
    enabled: bool = True


@dataclass(frozen=True, kw_only=True)
class Channel:
    id: str
    workspace_id: str
    name: str
    type: ChannelType
    #: Opened settings: url and secret (webhook), url (slack), to (email).
    config: dict[str, object]


@dataclass(frozen=True, kw_only=True)
class RunFact:
    """What a rule needs of one run."""

    id: str
    status: RunStatus
    read: int
    changes: int
    failed: int
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None = None

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return max(0.0, (self.ended_at - self.started_at).total_seconds())


@dataclass(frozen=True, kw_only=True)
class SyncFacts:
    """A sync's recent history, as rules read it."""

    sync_id: str
    sync_name: str
    enabled: bool
    created_at: datetime
    #: Runs that ran to an end, newest first.
    ended: tuple[RunFact, ...] = ()
    last_success_at: datetime | None = None
    #: The run in progress now, if any.
    live: RunFact | None = None


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """A rule's judgement of one sync: whether the condition holds, and why."""

    firing: bool
    summary: str
    run_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Notice:
    """One message about an incident, whatever the channel."""

    event: Event
    incident_id: str
    workspace_id: str
    rule_id: str
    rule_name: str
    condition: Condition
    sync_id: str
    sync_name: str
    summary: str
    run_id: str | None
    opened_at: datetime
    closed_at: datetime | None = None
    url: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def title(self) -> str:
        state = "FIRING" if self.event is Event.FIRING else "RESOLVED"
        return f"[syncwright] {state}: {self.rule_name} on sync {self.sync_name}"

    @property
    def text(self) -> str:
        lines = [self.title, "", self.summary]
        if self.event is Event.RESOLVED:
            lines.append(f"Open since {self.opened_at:%Y-%m-%d %H:%M:%S} UTC.")
        if self.url:
            lines.append(self.url)
        return "\n".join(lines)

    def payload(self) -> dict[str, object]:
        """The JSON body of a webhook notice."""
        return {
            "event": f"alert.{self.event.value}",
            "incident_id": self.incident_id,
            "workspace_id": self.workspace_id,
            "rule": {"id": self.rule_id, "name": self.rule_name, "condition": self.condition},
            "sync": {"id": self.sync_id, "name": self.sync_name},
            "run_id": self.run_id,
            "summary": self.summary,
            "opened_at": self.opened_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "url": self.url,
            **self.extra,
        }


def _seconds(value: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value >= size:
            return f"{value / size:.1f}{unit}".replace(".0", "")
    return f"{value:.0f}s"


def judge(rule: AlertRule, facts: SyncFacts, now: datetime) -> Verdict | None:
    """Whether ``rule``'s condition holds for the sync now; None when it cannot be judged
    (no run yet, a disabled sync for freshness, too little history for volume): an open
    incident then stays as it is."""
    t = rule.thresholds
    last = facts.ended[0] if facts.ended else None
    match rule.condition:
        case Condition.RUN_FAILED | Condition.RUN_INCOMPLETE:
            if last is None:
                return None
            wanted = (
                RunStatus.FAILED if rule.condition is Condition.RUN_FAILED else RunStatus.INCOMPLETE
            )
            if last.status is wanted:
                why = f": {last.error}" if last.error else ""
                return Verdict(
                    firing=True, summary=f"run {last.id} {wanted.value}{why}", run_id=last.id
                )
            return Verdict(
                firing=False, summary=f"run {last.id} {last.status.value}", run_id=last.id
            )
        case Condition.FAILED_ENTRIES:
            # A run that failed may have stopped before delivering: it says nothing of the
            # entries, so the last run that delivered is judged.
            last = next((r for r in facts.ended if r.status is not RunStatus.FAILED), None)
            if last is None:
                return None
            share = last.failed / last.changes if last.changes else 0.0
            over = (t.failed_above is not None and last.failed > t.failed_above) or (
                t.failed_share_above is not None
                and last.changes > 0
                and share > t.failed_share_above
            )
            return Verdict(
                firing=over,
                summary=f"run {last.id}: {last.failed} of {last.changes} entries failed"
                f" ({share:.0%})",
                run_id=last.id,
            )
        case Condition.FRESHNESS:
            assert t.max_age is not None
            if not facts.enabled:
                return None
            since = facts.last_success_at or facts.created_at
            age = (now - since).total_seconds()
            what = "the last succeeded run ended" if facts.last_success_at else "no run succeeded"
            return Verdict(
                firing=age > t.max_age,
                summary=f"{what} {_seconds(age)} ago (allowed: {_seconds(t.max_age)})"
                if facts.last_success_at
                else f"{what} in the {_seconds(age)} since the sync was created"
                f" (allowed: {_seconds(t.max_age)})",
                run_id=last.id if last else None,
            )
        case Condition.DURATION:
            assert t.max_duration is not None
            live = facts.live
            if live is not None and live.started_at is not None:
                lasted = (now - live.started_at).total_seconds()
                if lasted > t.max_duration:
                    return Verdict(
                        firing=True,
                        summary=f"run {live.id} has been running for {_seconds(lasted)}"
                        f" (allowed: {_seconds(t.max_duration)})",
                        run_id=live.id,
                    )
            if last is None or last.seconds is None:
                return None
            return Verdict(
                firing=last.seconds > t.max_duration,
                summary=f"run {last.id} lasted {_seconds(last.seconds)}"
                f" (allowed: {_seconds(t.max_duration)})",
                run_id=last.id,
            )
        case Condition.VOLUME:
            assert t.deviation is not None
            judged = [r for r in facts.ended if r.status is not RunStatus.FAILED]
            if len(judged) < MIN_HISTORY + 1:
                return None
            latest, before = judged[0], judged[1 : t.lookback + 1]
            norm = sum(r.read for r in before) / len(before)
            if norm == 0:
                return None
            off = (latest.read - norm) / norm
            return Verdict(
                firing=abs(off) > t.deviation,
                summary=f"run {latest.id} read {latest.read} rows, {off:+.0%} against the"
                f" mean of {norm:.0f} over the {len(before)} runs before"
                f" (allowed: ±{t.deviation:.0%})",
                run_id=latest.id,
            )
    return None  # pragma: no cover (every condition is matched above)


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """One notice of an incident to one channel, and how its sending went."""

    id: int
    incident_id: str
    channel_id: str
    channel_name: str
    event: Event
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Incident:
    """A stretch of time a rule's condition held for a sync."""

    id: str
    workspace_id: str
    rule_id: str
    rule_name: str
    condition: Condition
    sync_id: str
    sync_name: str
    run_id: str | None
    summary: str
    opened_at: datetime
    closed_at: datetime | None
    resolution: str | None
    deliveries: tuple[Delivery, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.closed_at is None
