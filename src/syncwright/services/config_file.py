"""The declarative configuration file: sources, models, destinations, syncs, and alert
channels and rules, in YAML.

Parsing checks shapes and references and reports the path of the first wrong field, e.g.
``syncs.products_to_warehouse.mode``. Connector settings are checked by each connector's
typed config."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from syncwright.domain.alerts import ChannelType, Condition
from syncwright.domain.errors import ConfigError
from syncwright.domain.statuses import ChangeDetection, WriteMode
from syncwright.sdk.config import config_error

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectionDoc(BaseModel):
    """A source or destination: its ``type`` plus the connector's own settings."""

    model_config = ConfigDict(extra="allow")
    type: str

    def settings(self) -> dict[str, Any]:
        """The connector's own settings (without the platform's, like ``max_runs``)."""
        return {k: v for k, v in (self.model_extra or {}).items() if k not in PLATFORM_KEYS}

    def max_runs(self, where: str) -> int | None:
        """Destinations: at most this many runs writing to it at once."""
        value = (self.model_extra or {}).get("max_runs")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"must be a whole number of 1 or more, got {value!r}", field=where)
        return value


#: Settings of a source or destination that syncwright reads itself, not the connector.
PLATFORM_KEYS = frozenset({"max_runs"})


class ModelDoc(_Strict):
    source: str
    query: str = ""
    primary_key: list[str] = Field(json_schema_extra={"minItems": 1})
    reference: str | None = None
    cursor: str | None = None

    @field_validator("primary_key", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("primary_key")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one column")
        return value


class GuardDoc(_Strict):
    allow_empty: bool = False
    max_delete_share: float = Field(default=0.5, ge=0, le=1)
    #: Pause (fail, awaiting approval) when more than this share of the delivered items
    #: would change or go; no limit when left out.
    max_change_share: float | None = Field(default=None, ge=0, le=1)


class RetryDoc(_Strict):
    retries: int = Field(default=4, ge=0, le=100)
    first_delay: float = Field(default=1.0, ge=0)
    factor: float = Field(default=2.0, ge=1)
    max_delay: float = Field(default=300.0, ge=0)
    jitter: float = Field(default=0.1, ge=0, le=1)
    #: Items still failed when a run ends are sent again by the sync's next run.
    next_run: bool = True


class ScheduleDoc(_Strict):
    #: An interval: ``30s``, ``15m``, ``1h``, ``1d`` or seconds.
    every: str | float | None = None
    #: A cron expression (5 fields, or 6 with seconds first), read in ``timezone``.
    cron: str | None = None
    timezone: str = "UTC"


class SyncDoc(_Strict):
    model: str
    destination: str
    mode: WriteMode = WriteMode.UPSERT
    detection: ChangeDetection = ChangeDetection.DIFF
    type: str = "resources_update"
    enabled: bool = True
    folder: str | None = None
    labels: list[str] = Field(default_factory=list)
    batch_size: int = Field(default=1000, ge=1, le=100_000)
    guard: GuardDoc = Field(default_factory=GuardDoc)
    retry: RetryDoc = Field(default_factory=RetryDoc)
    schedule: ScheduleDoc | None = None
    #: What a schedule does with ticks missed while no engine ran: run once, or skip.
    missed: Literal["once", "skip"] = "once"
    #: Syncs whose runs start this one, when they end as ``after_statuses`` says.
    after: list[str] = Field(default_factory=list)
    after_statuses: list[Literal["succeeded", "incomplete", "failed"]] = Field(
        default_factory=lambda: ["succeeded"]
    )
    #: Editing the sync or its model starts a run ``debounce`` after the last edit.
    on_change: bool = False
    debounce: str | float = 30.0
    #: A secret URL that starts a run.
    webhook: bool = False
    #: A trigger while a run is live: queue the new run behind it, or record it skipped.
    when_busy: Literal["queue", "skip"] = "queue"
    #: Abort a run still going after this long (``2h``, seconds).
    timeout: str | float | None = None
    #: Turn the sync off after this many failed runs in a row.
    disable_after_failures: int | None = Field(default=None, ge=1)


class ChannelDoc(BaseModel):
    """A channel's settings: ``url`` and ``secret`` (webhook), ``url`` (slack), ``to``
    (email). Left out on a replace, or sent back masked as read, ``secret`` and a Slack
    ``url`` keep their stored value."""

    model_config = ConfigDict(extra="forbid")

    type: ChannelType
    url: str | None = Field(default=None, description="webhook, slack: where notices go.")
    secret: str | None = Field(
        default=None,
        description="webhook: the HMAC-SHA256 key notices are signed with (16+ characters).",
    )
    to: list[str] | None = Field(
        default=None, description="email: the addresses notices go to.", min_length=1
    )


class RuleDoc(BaseModel):
    """A rule: its condition and the settings it needs, the sync it watches (by name; left
    out, every sync of the workspace) and the channels it notifies (by name)."""

    model_config = ConfigDict(extra="forbid")

    condition: Condition
    sync: str | None = Field(default=None, description="The sync watched; none: all of them.")
    channels: list[str] = Field(min_length=1, description="The channels notified, by name.")
    enabled: bool = True
    failed_above: int | None = Field(default=None, description="failed_entries: a count.")
    failed_share_above: float | None = Field(
        default=None, description="failed_entries: a share of the run's changes (0.1 = 10 %)."
    )
    max_age: str | float | None = Field(
        default=None, description="freshness: how long without a succeeded run (e.g. 6h)."
    )
    max_duration: str | float | None = Field(
        default=None, description="duration: how long a run may last (e.g. 30m)."
    )
    deviation: float | None = Field(
        default=None, description="volume: the allowed deviation from the norm (0.5 = 50 %)."
    )
    lookback: int = Field(default=10, description="volume: how many earlier runs make the norm.")


class ConfigDoc(_Strict):
    sources: dict[str, ConnectionDoc] = Field(default_factory=dict)
    models: dict[str, ModelDoc] = Field(default_factory=dict)
    destinations: dict[str, ConnectionDoc] = Field(default_factory=dict)
    syncs: dict[str, SyncDoc] = Field(default_factory=dict)
    alert_channels: dict[str, ChannelDoc] = Field(default_factory=dict)
    alert_rules: dict[str, RuleDoc] = Field(default_factory=dict)


def _expand(value: Any, path: str, env: dict[str, str]) -> Any:
    """Replace ``${NAME}`` in strings with environment variables."""
    if isinstance(value, dict):
        return {k: _expand(v, f"{path}.{k}" if path else str(k), env) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{path}.{i}", env) for i, v in enumerate(value)]
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(f"environment variable {name} is not set", field=path)
            return env[name]

        return _VAR.sub(sub, value)
    return value


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader refusing a key given twice in one mapping (plain YAML keeps the
    last one: half of a sync's settings would vanish without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise ConfigError(
                    f"line {key_node.start_mark.line + 1}: the key {key!r} is given twice"
                    f" (first on line {seen[key] + 1})"
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def parse_config(text: str, *, env: dict[str, str] | None = None) -> ConfigDoc:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the file must be a mapping with sources, models, destinations, syncs")
    data = _expand(data, "", dict(os.environ) if env is None else env)
    try:
        return ConfigDoc.model_validate(data)
    except ValidationError as exc:
        raise config_error(ConfigDoc, exc) from None


def load_config(path: Path, *, env: dict[str, str] | None = None) -> ConfigDoc:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    return parse_config(text, env=env)
