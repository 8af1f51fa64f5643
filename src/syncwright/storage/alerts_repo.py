"""Alert channels and rules, the incidents rules open and close, and the outbox of their
notices. Opening and closing are atomic across processes: whichever judges first wins, and
only the winner's notices are queued."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Iterable

import sqlalchemy as sa

from syncwright.domain.alerts import (
    RAN,
    AlertRule,
    Channel,
    ChannelType,
    Condition,
    Delivery,
    DeliveryStatus,
    Event,
    Incident,
    RunFact,
    SyncFacts,
    Thresholds,
    Verdict,
)
from syncwright.domain.clock import as_utc
from syncwright.domain.statuses import LIVE_RUN_STATUSES, RunStatus
from syncwright.storage.config_repo import ConfigRepository
from syncwright.storage.secrets import SecretBox
from syncwright.storage.tables import (
    alert_channels,
    alert_deliveries,
    alert_incidents,
    alert_rules,
    runs,
    syncs,
)


def _rule(row: Any) -> AlertRule:
    return AlertRule(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        condition=Condition(row["condition"]),
        sync_id=row["sync_id"],
        thresholds=Thresholds(**row["thresholds"]),
        channel_ids=tuple(row["channel_ids"]),
        enabled=bool(row["enabled"]),
    )


def _fact(row: Any) -> RunFact:
    infos = row["infos"] or {}
    return RunFact(
        id=row["id"],
        status=RunStatus(row["status"]),
        read=int(row["read"]),
        changes=int(row["added"]) + int(row["changed"]) + int(row["removed"]),
        failed=int(row["failed"]),
        started_at=as_utc(row["started_at"]),
        ended_at=as_utc(row["ended_at"]),
        error=str(infos["error"]) if infos.get("error") else None,
    )


_FACT_COLUMNS = (
    runs.c.id,
    runs.c.status,
    runs.c.read,
    runs.c.added,
    runs.c.changed,
    runs.c.removed,
    runs.c.failed,
    runs.c.started_at,
    runs.c.ended_at,
    runs.c.infos,
)


class AlertRepository:
    """Alert channels and rules are configured objects (kinds ``alert_channel`` and
    ``alert_rule`` of the ``ConfigRepository``, which creates, updates and deletes them);
    this reads them typed, and keeps the incidents and notices."""

    def __init__(self, engine: sa.Engine, box: SecretBox, config: ConfigRepository) -> None:
        self.engine = engine
        self.box = box
        self.config = config

    # -- channels and rules -------------------------------------------------------------
    def _channel(self, row: dict[str, Any]) -> Channel:
        return Channel(
            id=row["id"],
            workspace_id=row["workspace_id"],
            name=row["name"],
            type=ChannelType(row["type"]),
            config=self.box.open(row["config"]),
        )

    def channels(self, workspace_id: str) -> list[Channel]:
        return [self._channel(r) for r in self.config.rows("alert_channel", workspace_id)]

    def channel(self, workspace_id: str, channel_id: str) -> Channel:
        return self._channel(self.config.live("alert_channel", workspace_id, channel_id))

    def rules(self, workspace_id: str | None = None) -> list[AlertRule]:
        """A workspace's rules (every workspace's with None), by name."""
        if workspace_id is not None:
            return [_rule(r) for r in self.config.rows("alert_rule", workspace_id)]
        query = sa.select(alert_rules).where(alert_rules.c.deleted_at.is_(None))
        with self.engine.connect() as conn:
            return [_rule(r) for r in conn.execute(query.order_by(alert_rules.c.name)).mappings()]

    def rule(self, workspace_id: str, rule_id: str) -> AlertRule:
        return _rule(self.config.live("alert_rule", workspace_id, rule_id))

    # -- what rules judge ---------------------------------------------------------------
    def live_syncs(self, workspace_id: str) -> list[dict[str, Any]]:
        query = (
            sa.select(syncs.c.id, syncs.c.name, syncs.c.enabled, syncs.c.created_at)
            .where(syncs.c.workspace_id == workspace_id, syncs.c.deleted_at.is_(None))
            .order_by(syncs.c.name)
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def facts(self, sync: dict[str, Any], history: int) -> SyncFacts:
        """The sync's last ``history`` runs that ran to an end, its last success and the run
        in progress now (each one walk of the sync's runs by creation)."""
        by_sync = sa.select(*_FACT_COLUMNS).where(
            runs.c.sync_id == sync["id"], runs.c.deleted_at.is_(None)
        )
        newest = (runs.c.created_at.desc(), runs.c.id.desc())
        with self.engine.connect() as conn:
            ended = [
                _fact(r)
                for r in conn.execute(
                    by_sync.where(runs.c.status.in_([s.value for s in RAN]))
                    .order_by(*newest)
                    .limit(history)
                ).mappings()
            ]
            success = conn.execute(
                sa.select(runs.c.ended_at)
                .where(runs.c.sync_id == sync["id"], runs.c.status == RunStatus.SUCCEEDED.value)
                .order_by(*newest)
                .limit(1)
            ).scalar_one_or_none()
            live = (
                conn.execute(
                    by_sync.where(
                        runs.c.status.in_([s.value for s in LIVE_RUN_STATUSES]),
                        runs.c.started_at.is_not(None),
                    ).limit(1)
                )
                .mappings()
                .first()
            )
        return SyncFacts(
            sync_id=sync["id"],
            sync_name=sync["name"],
            enabled=bool(sync["enabled"]),
            created_at=as_utc(sync["created_at"]),
            ended=tuple(ended),
            last_success_at=as_utc(success),
            live=_fact(live) if live is not None else None,
        )

    # -- incidents ----------------------------------------------------------------------
    def open_incidents(self) -> dict[str, dict[tuple[str, str], str]]:
        """The open incidents by workspace, then by (rule id, sync id)."""
        i = alert_incidents
        query = sa.select(i.c.id, i.c.workspace_id, i.c.rule_id, i.c.sync_id).where(
            i.c.closed_at.is_(None)
        )
        found: dict[str, dict[tuple[str, str], str]] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(query):
                found.setdefault(r.workspace_id, {})[(r.rule_id, r.sync_id)] = r.id
        return found

    def open(self, rule: AlertRule, sync_id: str, verdict: Verdict, now: datetime) -> str | None:
        """Open the rule's incident for the sync and queue its notices; None when one is
        open already (another process judged first)."""
        incident_id = str(uuid.uuid4())
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    alert_incidents.insert().values(
                        id=incident_id,
                        workspace_id=rule.workspace_id,
                        rule_id=rule.id,
                        sync_id=sync_id,
                        run_id=verdict.run_id,
                        summary=verdict.summary,
                        opened_at=now,
                    )
                )
                self._queue(conn, incident_id, rule.channel_ids, Event.FIRING, now)
        except sa.exc.IntegrityError:
            return None
        return incident_id

    def close(
        self,
        incident_id: str,
        resolution: str,
        now: datetime,
        channel_ids: Iterable[str] = (),
    ) -> bool:
        """Close an open incident and queue its recovery notices (none for ``channel_ids``
        empty); False when it was closed already."""
        with self.engine.begin() as conn:
            closed = conn.execute(
                alert_incidents.update()
                .where(alert_incidents.c.id == incident_id, alert_incidents.c.closed_at.is_(None))
                .values(closed_at=now, resolution=resolution)
            ).rowcount
            if closed != 1:
                return False
            self._queue(conn, incident_id, channel_ids, Event.RESOLVED, now)
        return True

    def _queue(
        self,
        conn: sa.Connection,
        incident_id: str,
        channel_ids: Iterable[str],
        event: Event,
        now: datetime,
    ) -> None:
        channel_ids = list(channel_ids)
        live = set(
            conn.execute(
                sa.select(alert_channels.c.id).where(
                    alert_channels.c.id.in_(list(channel_ids)),
                    alert_channels.c.deleted_at.is_(None),
                )
            ).scalars()
        )
        for channel_id in channel_ids:
            if channel_id in live:
                conn.execute(
                    alert_deliveries.insert().values(
                        incident_id=incident_id,
                        channel_id=channel_id,
                        event=event.value,
                        status=DeliveryStatus.PENDING.value,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )

    def incidents(
        self,
        workspace_id: str,
        *,
        open_only: bool | None = None,
        sync_id: str | None = None,
        rule_id: str | None = None,
        incident_id: str | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int = 100,
    ) -> list[Incident]:
        """Newest first, with their deliveries; ``after`` (opened at, id) continues after
        a page's last one."""
        i = alert_incidents
        query = (
            sa.select(
                i,
                alert_rules.c.name.label("rule_name"),
                alert_rules.c.condition,
                syncs.c.name.label("sync_name"),
            )
            .join(alert_rules, alert_rules.c.id == i.c.rule_id)
            .join(syncs, syncs.c.id == i.c.sync_id)
            .where(i.c.workspace_id == workspace_id)
            .order_by(i.c.opened_at.desc(), i.c.id.desc())
            .limit(limit)
        )
        if open_only is not None:
            query = query.where(
                i.c.closed_at.is_(None) if open_only else i.c.closed_at.is_not(None)
            )
        for column, value in (
            (i.c.sync_id, sync_id),
            (i.c.rule_id, rule_id),
            (i.c.id, incident_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if after is not None:
            at, last_id = after
            query = query.where(
                sa.or_(i.c.opened_at < at, sa.and_(i.c.opened_at == at, i.c.id < last_id))
            )
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
            sent = self._deliveries(conn, [r["id"] for r in rows])
        return [
            Incident(
                id=r["id"],
                workspace_id=r["workspace_id"],
                rule_id=r["rule_id"],
                rule_name=r["rule_name"],
                condition=Condition(r["condition"]),
                sync_id=r["sync_id"],
                sync_name=r["sync_name"],
                run_id=r["run_id"],
                summary=r["summary"],
                opened_at=as_utc(r["opened_at"]),
                closed_at=as_utc(r["closed_at"]),
                resolution=r["resolution"],
                deliveries=tuple(sent.get(r["id"], ())),
            )
            for r in rows
        ]

    def _deliveries(
        self, conn: sa.Connection, incident_ids: list[str]
    ) -> dict[str, list[Delivery]]:
        found: dict[str, list[Delivery]] = {}
        if not incident_ids:
            return found
        query = (
            sa.select(alert_deliveries, alert_channels.c.name.label("channel_name"))
            .join(alert_channels, alert_channels.c.id == alert_deliveries.c.channel_id)
            .where(alert_deliveries.c.incident_id.in_(incident_ids))
            .order_by(alert_deliveries.c.id)
        )
        for r in conn.execute(query).mappings():
            found.setdefault(r["incident_id"], []).append(_delivery(r))
        return found

    # -- the outbox ---------------------------------------------------------------------
    def due(self, now: datetime, limit: int = 100) -> list[int]:
        """Deliveries waiting to be tried, oldest first."""
        d = alert_deliveries
        query = (
            sa.select(d.c.id)
            .where(d.c.status == DeliveryStatus.PENDING.value, d.c.next_attempt_at <= now)
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def claim(self, delivery_id: int, now: datetime, lease: float) -> int | None:
        """Take a due delivery for one attempt (no other process tries it for ``lease``
        seconds); the attempt's number, or None when another process took it."""
        d = alert_deliveries
        with self.engine.begin() as conn:
            taken = conn.execute(
                d.update()
                .where(
                    d.c.id == delivery_id,
                    d.c.status == DeliveryStatus.PENDING.value,
                    d.c.next_attempt_at <= now,
                )
                .values(attempts=d.c.attempts + 1, next_attempt_at=now + timedelta(seconds=lease))
            ).rowcount
            if taken != 1:
                return None
            return int(
                conn.execute(sa.select(d.c.attempts).where(d.c.id == delivery_id)).scalar_one()
            )

    def outgoing(self, delivery_id: int) -> dict[str, Any]:
        """What a delivery sends: its event, incident, rule, sync and channel (opened)."""
        d, i = alert_deliveries, alert_incidents
        query = (
            sa.select(
                d.c.event,
                i,
                alert_rules.c.name.label("rule_name"),
                alert_rules.c.condition,
                syncs.c.name.label("sync_name"),
                alert_channels.c.name.label("channel_name"),
                alert_channels.c.type.label("channel_type"),
                alert_channels.c.config.label("channel_config"),
            )
            .join(i, i.c.id == d.c.incident_id)
            .join(alert_rules, alert_rules.c.id == i.c.rule_id)
            .join(syncs, syncs.c.id == i.c.sync_id)
            .join(alert_channels, alert_channels.c.id == d.c.channel_id)
            .where(d.c.id == delivery_id)
        )
        with self.engine.connect() as conn:
            row = dict(conn.execute(query).mappings().one())
        row["channel_config"] = self.box.open(row["channel_config"])
        return row

    def settle(
        self,
        delivery_id: int,
        status: DeliveryStatus,
        now: datetime,
        *,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Record an attempt: delivered, undelivered, or (pending) tried again at
        ``retry_at``."""
        values: dict[str, Any] = {"status": status.value, "last_error": error}
        if status is DeliveryStatus.DELIVERED:
            values["delivered_at"] = now
        values["next_attempt_at"] = retry_at
        with self.engine.begin() as conn:
            conn.execute(
                alert_deliveries.update()
                .where(alert_deliveries.c.id == delivery_id)
                .values(**values)
            )


def _delivery(r: Any) -> Delivery:
    return Delivery(
        id=int(r["id"]),
        incident_id=r["incident_id"],
        channel_id=r["channel_id"],
        channel_name=r["channel_name"],
        event=Event(r["event"]),
        status=DeliveryStatus(r["status"]),
        attempts=int(r["attempts"]),
        last_error=r["last_error"],
        created_at=as_utc(r["created_at"]),
        delivered_at=as_utc(r["delivered_at"]),
        next_attempt_at=as_utc(r["next_attempt_at"]),
    )
