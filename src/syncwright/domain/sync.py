"""The configured objects: sources, models, destinations and syncs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from syncwright.domain.clock import as_utc
from syncwright.domain.guard import WipeGuard
from syncwright.domain.retry import RetryPolicy
from syncwright.domain.statuses import ChangeDetection, WriteMode
from syncwright.domain.triggers import Triggers

DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True, kw_only=True)
class ConnectionSpec:
    """A configured source or destination: a connector type and its settings."""

    id: str
    workspace_id: str
    name: str
    type: str
    config: dict[str, Any]
    #: Destinations only: at most this many runs writing to it at once.
    max_runs: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ConnectionSpec:
        return cls(
            id=row["id"],
            workspace_id=row["workspace_id"],
            name=row["name"],
            type=row["type"],
            config=dict(row["config"] or {}),
            max_runs=row.get("max_runs"),
        )


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """A query over a source yielding rows with a primary key."""

    id: str
    workspace_id: str
    name: str
    source_id: str
    query: str
    primary_key: tuple[str, ...]
    reference: str | None = None
    cursor: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ModelSpec:
        return cls(
            id=row["id"],
            workspace_id=row["workspace_id"],
            name=row["name"],
            source_id=row["source_id"],
            query=row["query"],
            primary_key=tuple(row["primary_key"]),
            reference=row["reference"],
            cursor=row["cursor"],
        )


@dataclass(frozen=True, kw_only=True)
class SyncSpec:
    """A model mapped to a destination, with how and when to write it."""

    id: str
    workspace_id: str
    name: str
    model_id: str
    destination_id: str
    type: str = "resources_update"
    write_mode: WriteMode = WriteMode.UPSERT
    detection: ChangeDetection = ChangeDetection.DIFF
    enabled: bool = True
    folder: str | None = None
    labels: tuple[str, ...] = ()
    batch_size: int = DEFAULT_BATCH_SIZE
    guard: WipeGuard = field(default_factory=WipeGuard)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    triggers: Triggers = field(default_factory=Triggers)
    #: Why the sync was turned off automatically (too many failed runs), if it was.
    disabled_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by_user_id: str | None = None
    updated_by_user_id: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SyncSpec:
        settings = dict(row["settings"] or {})
        return cls(
            id=row["id"],
            workspace_id=row["workspace_id"],
            name=row["name"],
            model_id=row["model_id"],
            destination_id=row["destination_id"],
            type=row["type"],
            write_mode=WriteMode(row["write_mode"]),
            detection=ChangeDetection(row["detection"]),
            enabled=bool(row["enabled"]),
            folder=row["folder"],
            labels=tuple(row["labels"] or ()),
            batch_size=int(settings.get("batch_size", DEFAULT_BATCH_SIZE)),
            guard=WipeGuard(**settings.get("guard", {})),
            retry=RetryPolicy(**settings.get("retry", {})),
            triggers=Triggers.from_settings(settings.get("triggers", {})),
            disabled_reason=settings.get("disabled_reason"),
            created_at=as_utc(row["created_at"]),
            updated_at=as_utc(row["updated_at"]),
            created_by_user_id=row["created_by_user_id"],
            updated_by_user_id=row.get("updated_by_user_id"),
        )
