"""Alert channels, alert rules and the incidents they opened, in one workspace.

Channels and rules are configured by admins; everyone in the workspace reads them (secrets
masked) and the incident history. Each change is in the audit log.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable
from urllib.parse import urlsplit

from syncwright.domain.alerts import (
    AlertRule,
    Channel,
    ChannelType,
    Condition,
    Event,
    Incident,
    Notice,
    Thresholds,
    check_thresholds,
)
from syncwright.domain.clock import utcnow
from syncwright.domain.errors import ConfigError, Conflict, NotFound
from syncwright.domain.triggers import parse_every
from syncwright.engine.notify import NoticeFailed, Notifier
from syncwright.services.config_file import ChannelDoc, RuleDoc
from syncwright.storage.store import Store

MASK = "********"
#: The settings of each channel type that are secrets (sealed at rest, masked when read).
SECRETS = {ChannelType.WEBHOOK: ("secret",), ChannelType.SLACK: ("url",), ChannelType.EMAIL: ()}
_EMAIL = r"^[^@\s,;<>]+@[^@\s,;<>]+$"


@dataclass(frozen=True, kw_only=True)
class ChannelView:
    """A channel as people read it: secrets masked."""

    id: str
    name: str
    type: ChannelType
    config: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class RuleView:
    rule: AlertRule
    sync_name: str | None
    channel_names: tuple[str, ...]


def channel_config(
    doc: ChannelDoc, *, smtp: bool, kept: Channel | None = None, where: str = ""
) -> dict[str, Any]:
    """A channel's settings as stored (secrets still plain), checked; a wrong one is refused
    naming its field (under ``where``). ``kept``: the stored channel a replace keeps secrets
    of; ``smtp``: whether this installation can send e-mail."""
    given = doc.model_dump(exclude={"type"}, exclude_none=True)
    for key in SECRETS[doc.type]:
        if MASK in str(given.get(key, "")):
            del given[key]  # sent back as read: the stored value stays
    if kept is not None and kept.type is doc.type:
        for key in SECRETS[doc.type]:
            if key not in given and key in kept.config:
                given[key] = kept.config[key]
    allowed = {
        ChannelType.WEBHOOK: {"url", "secret"},
        ChannelType.SLACK: {"url"},
        ChannelType.EMAIL: {"to"},
    }[doc.type]
    for key in sorted(set(given) - allowed):
        raise ConfigError(f"is not a setting of a {doc.type.value} channel", field=where + key)
    if doc.type is ChannelType.EMAIL:
        if not given.get("to"):
            raise ConfigError("an email channel needs at least one address", field=where + "to")
        for address in given["to"]:
            if not re.match(_EMAIL, address):
                raise ConfigError(f"not an e-mail address: {address!r}", field=where + "to")
        if not smtp:
            raise ConfigError(
                "no SMTP server is configured for this installation (set SYNCWRIGHT_SMTP_HOST)",
                field=where + "type",
            )
        return given
    url = given.get("url")
    if not url:
        raise ConfigError(f"a {doc.type.value} channel needs a url", field=where + "url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"not an http(s) URL: {url!r}", field=where + "url")
    if doc.type is ChannelType.WEBHOOK and len(given.get("secret") or "") < 16:
        raise ConfigError(
            "a webhook channel needs a secret of 16 characters or more to sign with",
            field=where + "secret",
        )
    return given


def rule_thresholds(doc: RuleDoc, where: str = "") -> Thresholds:
    """A rule's thresholds (durations in seconds), checked against its condition; a wrong
    one is refused naming its field (under ``where``)."""
    try:
        thresholds = Thresholds(
            failed_above=doc.failed_above,
            failed_share_above=doc.failed_share_above,
            max_age=None if doc.max_age is None else parse_every(doc.max_age, "max_age"),
            max_duration=(
                None if doc.max_duration is None else parse_every(doc.max_duration, "max_duration")
            ),
            deviation=doc.deviation,
            lookback=doc.lookback,
        )
        check_thresholds(doc.condition, thresholds)
    except ConfigError as exc:
        raise ConfigError(exc.message, field=where + (exc.field or "")) from None
    return thresholds


def channel_values(
    type: ChannelType, config: dict[str, Any], seal: Callable[[str], str]
) -> dict[str, Any]:
    """A channel's stored columns, its secrets sealed."""
    sealed = {k: seal(v) if k in SECRETS[type] else v for k, v in config.items()}
    return {"type": type.value, "config": sealed}


def rule_values(rule: AlertRule) -> dict[str, Any]:
    """A rule's stored columns."""
    return {
        "condition": rule.condition.value,
        "sync_id": rule.sync_id,
        "thresholds": rule.thresholds.as_dict(),
        "channel_ids": list(rule.channel_ids),
        "enabled": rule.enabled,
    }


def _masked(channel: Channel) -> dict[str, Any]:
    out = dict(channel.config)
    for key in SECRETS[channel.type]:
        if key in out and key == "url":
            parts = urlsplit(str(out[key]))
            out[key] = f"{parts.scheme}://{parts.netloc}/{MASK}"
        elif key in out:
            out[key] = MASK
    return out


class AlertService:
    def __init__(self, store: Store, workspace_id: str, notifier: Notifier) -> None:
        self.store = store
        self.workspace_id = workspace_id
        self.notifier = notifier

    # -- channels -----------------------------------------------------------------------
    def channels(self) -> list[ChannelView]:
        return [self._view(c) for c in self.store.alerts.channels(self.workspace_id)]

    def channel(self, channel_id: str) -> ChannelView:
        return self._view(self.store.alerts.channel(self.workspace_id, channel_id))

    @staticmethod
    def _view(channel: Channel) -> ChannelView:
        return ChannelView(
            id=channel.id, name=channel.name, type=channel.type, config=_masked(channel)
        )

    def _save(
        self, kind: str, name: str, values: dict[str, Any], action: str, user_id: str | None
    ) -> str:
        """Create or update a channel or rule by name, with its audit record, at once."""
        with self.store.engine.begin() as conn:
            object_id, _ = self.store.config.save(
                conn, kind, self.workspace_id, name, values, user_id=user_id
            )
            self.store.audit.record(
                self.workspace_id,
                f"{kind}.{action}",
                kind,
                object_id=object_id,
                object_name=name,
                user_id=user_id,
                conn=conn,
            )
        return object_id

    def _delete(self, kind: str, object_id: str, name: str, user_id: str | None) -> None:
        with self.store.engine.begin() as conn:
            self.store.config.soft_delete(conn, kind, object_id, user_id=user_id)
            self.store.audit.record(
                self.workspace_id,
                f"{kind}.deleted",
                kind,
                object_id=object_id,
                object_name=name,
                user_id=user_id,
                conn=conn,
            )

    def _refuse_taken(self, kind: str, name: str) -> None:
        if self.store.config.find(kind, self.workspace_id, name) is not None:
            raise Conflict(f"an {kind.replace('_', ' ')} named {name!r} exists already")

    def create_channel(self, name: str, doc: ChannelDoc, *, user_id: str | None) -> str:
        self._refuse_taken("alert_channel", name)
        config = channel_config(doc, smtp=self.notifier.smtp is not None)
        values = channel_values(doc.type, config, self.store.secrets.seal)
        return self._save("alert_channel", name, values, "created", user_id)

    def replace_channel(self, channel_id: str, doc: ChannelDoc, *, user_id: str | None) -> None:
        kept = self.store.alerts.channel(self.workspace_id, channel_id)
        config = channel_config(doc, smtp=self.notifier.smtp is not None, kept=kept)
        values = channel_values(doc.type, config, self.store.secrets.seal)
        self._save("alert_channel", kept.name, values, "replaced", user_id)

    def delete_channel(self, channel_id: str, *, user_id: str | None) -> None:
        """Delete a channel no rule notifies; 409 names the rules that do."""
        kept = self.store.alerts.channel(self.workspace_id, channel_id)
        users = [
            r.name
            for r in self.store.alerts.rules(self.workspace_id)
            if channel_id in r.channel_ids
        ]
        if users:
            raise Conflict(f"alert channel {kept.name!r} is used by rules {', '.join(users)}")
        self._delete("alert_channel", channel_id, kept.name, user_id)

    def test_channel(self, channel_id: str, *, user_id: str | None) -> str | None:
        """Send a test notice now; None when the channel took it, else why not."""
        channel = self.store.alerts.channel(self.workspace_id, channel_id)
        now = utcnow()
        notice = Notice(
            event=Event.FIRING,
            incident_id="test",
            workspace_id=self.workspace_id,
            rule_id="test",
            rule_name="test notice",
            condition=Condition.RUN_FAILED,
            sync_id="test",
            sync_name="(none)",
            summary="A test notice from syncwright: this channel works.",
            run_id=None,
            opened_at=now,
            extra={"event": "alert.test", "test": True},
        )
        try:
            self.notifier.send(channel.type, channel.config, notice, f"test-{uuid.uuid4()}")
        except NoticeFailed as exc:
            return str(exc)
        finally:
            self.store.audit.record(
                self.workspace_id,
                "alert_channel.tested",
                "alert_channel",
                object_id=channel_id,
                object_name=channel.name,
                user_id=user_id,
            )
        return None

    # -- rules --------------------------------------------------------------------------
    def rules(self) -> list[RuleView]:
        names = self._channel_names()
        return [self._rule_view(r, names) for r in self.store.alerts.rules(self.workspace_id)]

    def rule(self, rule_id: str) -> RuleView:
        found = self.store.alerts.rule(self.workspace_id, rule_id)
        return self._rule_view(found, self._channel_names())

    def _channel_names(self) -> dict[str, str]:
        return {c.id: c.name for c in self.store.alerts.channels(self.workspace_id)}

    def _rule_view(self, rule: AlertRule, names: dict[str, str]) -> RuleView:
        sync_name = None
        if rule.sync_id is not None:
            sync_name = self.store.config.get("sync", rule.sync_id)["name"]
        return RuleView(
            rule=rule,
            sync_name=sync_name,
            channel_names=tuple(names[c] for c in rule.channel_ids if c in names),
        )

    def _rule(self, rule_id: str, name: str, doc: RuleDoc) -> AlertRule:
        sync_id = None
        if doc.sync is not None:
            found = self.store.config.find("sync", self.workspace_id, doc.sync)
            if found is None:
                raise ConfigError(f"no sync named {doc.sync!r}", field="sync")
            sync_id = str(found["id"])
        by_name = {c.name: c.id for c in self.store.alerts.channels(self.workspace_id)}
        missing = [c for c in doc.channels if c not in by_name]
        if missing:
            raise ConfigError(f"no alert channel named {', '.join(missing)}", field="channels")
        thresholds = rule_thresholds(doc)
        return AlertRule(
            id=rule_id,
            workspace_id=self.workspace_id,
            name=name,
            condition=doc.condition,
            sync_id=sync_id,
            thresholds=thresholds,
            channel_ids=tuple(dict.fromkeys(by_name[c] for c in doc.channels)),
            enabled=doc.enabled,
        )

    def create_rule(self, name: str, doc: RuleDoc, *, user_id: str | None) -> str:
        self._refuse_taken("alert_rule", name)
        values = rule_values(self._rule("", name, doc))
        return self._save("alert_rule", name, values, "created", user_id)

    def replace_rule(self, rule_id: str, doc: RuleDoc, *, user_id: str | None) -> None:
        """The rule's whole configuration, replaced; its open incidents are judged anew."""
        kept = self.store.alerts.rule(self.workspace_id, rule_id)
        values = rule_values(self._rule(rule_id, kept.name, doc))
        self._save("alert_rule", kept.name, values, "replaced", user_id)

    def set_rule_enabled(self, rule_id: str, on: bool, *, user_id: str | None) -> str:
        """Turn a rule on or off (off, its open incidents close quietly); its name."""
        kept = self.store.alerts.rule(self.workspace_id, rule_id)
        values = rule_values(dataclasses.replace(kept, enabled=on))
        self._save("alert_rule", kept.name, values, "enabled" if on else "disabled", user_id)
        return kept.name

    def delete_rule(self, rule_id: str, *, user_id: str | None) -> None:
        """Delete a rule; its history stays, its open incidents close without a notice."""
        kept = self.store.alerts.rule(self.workspace_id, rule_id)
        self._delete("alert_rule", rule_id, kept.name, user_id)

    # -- history ------------------------------------------------------------------------
    def incidents(
        self,
        *,
        state: str | None = None,
        sync_id: str | None = None,
        sync_name: str | None = None,
        rule_id: str | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int = 100,
    ) -> list[Incident]:
        """Incidents, newest first; ``state`` is ``open`` or ``closed``; ``after`` (opened
        at, id) continues after a page's last one."""
        if state not in (None, "open", "closed"):
            raise ConfigError("must be open or closed", field="state")
        if sync_id is not None:
            self.store.config.live("sync", self.workspace_id, sync_id)
        if sync_name is not None:
            sync_id = self.store.config.sync_by_name(self.workspace_id, sync_name).id
        return self.store.alerts.incidents(
            self.workspace_id,
            open_only=None if state is None else state == "open",
            sync_id=sync_id,
            rule_id=rule_id,
            after=after,
            limit=limit,
        )

    def incident(self, incident_id: str) -> Incident:
        found = self.store.alerts.incidents(self.workspace_id, incident_id=incident_id, limit=1)
        if not found:
            raise NotFound(f"no alert with id {incident_id}")
        return found[0]
