"""Judging alert rules and sending their notices, in every engine process.

Each rule is judged per sync again and again (every ``interval`` seconds, and as soon as a run
ends here). A condition that starts to hold opens an incident and queues one notice per
channel; one that stops holding closes it and queues the recovery notices. Several processes
may judge at once: the store lets one open (or close) each incident. Notices wait in the
store's outbox and are tried, with backoff, until delivered or the retries run out
("undelivered", with the channel's last answer).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from syncwright.domain.alerts import (
    AlertRule,
    ChannelType,
    Condition,
    DeliveryStatus,
    Event,
    Notice,
    SyncFacts,
    judge,
)
from syncwright.domain.clock import as_utc, utcnow
from syncwright.domain.retry import RetryPolicy
from syncwright.engine.notify import NoticeFailed, Notifier
from syncwright.storage.store import Store

logger = logging.getLogger("syncwright.alerts")

#: Seconds a process keeps a notice it is sending from the others.
LEASE = 120.0


def notice_of(row: dict[str, Any], public_url: str | None) -> Notice:
    """The notice a delivery sends, from ``AlertRepository.outgoing``."""
    url = None
    if public_url:
        base = f"{public_url.rstrip('/')}/w/{row['workspace_id']}"
        url = f"{base}/runs/{row['run_id']}" if row["run_id"] else f"{base}/alerts"
    return Notice(
        event=Event(row["event"]),
        incident_id=row["id"],
        workspace_id=row["workspace_id"],
        rule_id=row["rule_id"],
        rule_name=row["rule_name"],
        condition=Condition(row["condition"]),
        sync_id=row["sync_id"],
        sync_name=row["sync_name"],
        summary=row["resolution"] if row["event"] == Event.RESOLVED else row["summary"],
        run_id=row["run_id"],
        opened_at=as_utc(row["opened_at"]),
        closed_at=as_utc(row["closed_at"]),
        url=url,
    )


class Alerting:
    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        *,
        policy: RetryPolicy,
        interval: float = 30.0,
        public_url: str | None = None,
        wake: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.policy = policy
        self.interval = interval
        self.public_url = public_url
        #: Set when a run ends in this process: judge now rather than at the next interval.
        self.wake = wake or threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- judging ------------------------------------------------------------------------
    def judge(self, now: datetime) -> None:
        """Judge every enabled rule of every workspace, once."""
        by_workspace: dict[str, list[AlertRule]] = defaultdict(list)
        for rule in self.store.alerts.rules():
            by_workspace[rule.workspace_id].append(rule)
        open_ones = self.store.alerts.open_incidents()
        # A workspace whose rules were all deleted may still have open incidents.
        for workspace_id in by_workspace.keys() | open_ones.keys():
            self._judge_workspace(
                workspace_id, by_workspace[workspace_id], open_ones.get(workspace_id, {}), now
            )

    def _judge_workspace(
        self,
        workspace_id: str,
        rules: list[AlertRule],
        open_ones: dict[tuple[str, str], str],
        now: datetime,
    ) -> None:
        alerts = self.store.alerts
        syncs = {s["id"]: s for s in alerts.live_syncs(workspace_id)}
        history = max(
            [r.thresholds.lookback + 1 for r in rules if r.condition is Condition.VOLUME] + [1]
        )
        facts: dict[str, SyncFacts] = {}
        judged: set[tuple[str, str]] = set()
        for rule in rules:
            if not rule.enabled:
                continue
            targets = [rule.sync_id] if rule.sync_id else list(syncs)
            for sync_id in targets:
                if sync_id not in syncs:
                    continue
                if sync_id not in facts:
                    facts[sync_id] = alerts.facts(syncs[sync_id], history)
                verdict = judge(rule, facts[sync_id], now)
                key = (rule.id, sync_id)
                judged.add(key)
                if verdict is None:
                    continue
                incident_id = open_ones.get(key)
                if verdict.firing and incident_id is None:
                    if alerts.open(rule, sync_id, verdict, now):
                        logger.warning(
                            "alert %s fired for sync %s: %s",
                            rule.name,
                            syncs[sync_id]["name"],
                            verdict.summary,
                        )
                elif (
                    not verdict.firing
                    and incident_id is not None
                    and alerts.close(incident_id, verdict.summary, now, rule.channel_ids)
                ):
                    logger.info(
                        "alert %s resolved for sync %s: %s",
                        rule.name,
                        syncs[sync_id]["name"],
                        verdict.summary,
                    )
        # Incidents nobody judges any more (rule deleted or turned off, sync deleted, or out
        # of the rule's scope) close without a notice: nothing recovered.
        enabled = {r.id: r for r in rules if r.enabled}
        for key, incident_id in open_ones.items():
            if key in judged:
                continue
            rule_id, sync_id = key
            if rule_id not in enabled:
                why = "the rule was deleted or turned off"
            elif sync_id not in syncs:
                why = "the sync was deleted"
            else:
                why = "the sync is no longer watched by the rule"
            alerts.close(incident_id, why, now)

    # -- sending ------------------------------------------------------------------------
    def send_due(self, now: datetime) -> int:
        """Try each notice that is due; how many were tried."""
        alerts = self.store.alerts
        tried = 0
        for delivery_id in alerts.due(now):
            attempt = alerts.claim(delivery_id, now, LEASE)
            if attempt is None:
                continue  # another process took it
            tried += 1
            row = alerts.outgoing(delivery_id)
            notice = notice_of(row, self.public_url)
            try:
                self.notifier.send(
                    ChannelType(row["channel_type"]),
                    row["channel_config"],
                    notice,
                    str(delivery_id),
                )
            except NoticeFailed as exc:
                decision = self.policy.decide(attempts=attempt, retryable=True)
                ended = utcnow()
                if decision.retry:
                    alerts.settle(
                        delivery_id,
                        DeliveryStatus.PENDING,
                        ended,
                        error=str(exc),
                        retry_at=ended + timedelta(seconds=decision.delay),
                    )
                    logger.warning(
                        "alert notice to %s failed (attempt %d): %s; trying again in %.1f s",
                        row["channel_name"],
                        attempt,
                        exc,
                        decision.delay,
                    )
                else:
                    alerts.settle(delivery_id, DeliveryStatus.UNDELIVERED, ended, error=str(exc))
                    logger.error(
                        "alert notice to %s undelivered after %d attempts: %s",
                        row["channel_name"],
                        attempt,
                        exc,
                    )
            else:
                alerts.settle(delivery_id, DeliveryStatus.DELIVERED, utcnow())
        return tried

    # -- the loop -----------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="syncwright-alerts", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        judged_at: datetime | None = None
        while True:
            stopping = self._stop.is_set()
            try:
                now = utcnow()
                if (
                    stopping
                    or self.wake.is_set()
                    or judged_at is None
                    or (now - judged_at).total_seconds() >= self.interval
                ):
                    self.wake.clear()
                    self.judge(now)
                    judged_at = now
                self.send_due(utcnow())
            except Exception:  # a store hiccup must not stop the alerts
                logger.exception("syncwright alerting failed")
            if stopping:
                return  # after a last judgement and sending: a one-off `run` alerts too
            self.wake.wait(min(1.0, self.interval))

    def stop(self) -> None:
        """Judge and send once more, then stop."""
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None
