"""What the API answers: its own schemas, built from domain objects (never storage rows)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any, Callable, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, Field

from syncwright.domain.access import ApiToken, Role, User
from syncwright.domain.errors import ConfigError
from syncwright.domain.run import Run
from syncwright.domain.sync import SyncSpec


def _iso_with_zone(value: Any) -> Any:
    """Times come in as ISO 8601 with a time zone (``2026-01-31T08:00:00Z``), nothing else."""
    if isinstance(value, datetime):
        text = value.isoformat()
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError("give an ISO 8601 time with a time zone, e.g. 2026-01-31T08:00:00Z")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            "give an ISO 8601 time with a time zone, e.g. 2026-01-31T08:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError("give a time zone (Z or +hh:mm)")
    return parsed


#: A point in time given by a caller: ISO 8601 with a time zone.
Instant = Annotated[datetime, BeforeValidator(_iso_with_zone)]


class UserOut(BaseModel):
    """A user."""

    id: str
    email: str
    name: str | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, email=user.email, name=user.name)


class WorkspaceOut(BaseModel):
    """A workspace the caller is a member of, with the caller's role there."""

    id: str
    name: str
    role: Role
    created_at: datetime


class MeOut(BaseModel):
    """The caller and their workspaces."""

    user: UserOut
    workspaces: list[WorkspaceOut]


class TokenOut(BaseModel):
    """An API token, without its secret."""

    id: str
    name: str
    hint: str = Field(description="The first characters of the secret.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            name=token.name,
            hint=token.hint,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )


class TokenCreated(TokenOut):
    """A new token: ``secret`` is shown this once and never again."""

    secret: str


class TokenIn(BaseModel):
    """A token to create."""

    name: str = Field(min_length=1, max_length=200, description="What the token is for.")


class SyncOut(BaseModel):
    """A sync: a model mapped to a destination, with how and when it runs."""

    id: str
    name: str
    model_id: str
    destination_id: str
    type: str
    write_mode: str
    detection: str
    enabled: bool
    disabled_reason: str | None
    folder: str | None
    labels: list[str]
    batch_size: int
    trigger: str = Field(description="When the sync runs, in words.")
    webhook: bool = Field(description="Whether a secret URL can start the sync.")
    created_at: datetime | None
    updated_at: datetime | None
    created_by_user_id: str | None
    updated_by_user_id: str | None

    @classmethod
    def of(cls, sync: SyncSpec) -> SyncOut:
        return cls(
            id=sync.id,
            name=sync.name,
            model_id=sync.model_id,
            destination_id=sync.destination_id,
            type=sync.type,
            write_mode=sync.write_mode.value,
            detection=sync.detection.value,
            enabled=sync.enabled,
            disabled_reason=sync.disabled_reason,
            folder=sync.folder,
            labels=list(sync.labels),
            batch_size=sync.batch_size,
            trigger=sync.triggers.describe(),
            webhook=sync.triggers.webhook,
            created_at=sync.created_at,
            updated_at=sync.updated_at,
            created_by_user_id=sync.created_by_user_id,
            updated_by_user_id=sync.updated_by_user_id,
        )


class RunOut(BaseModel):
    """A run (a synchronisation): its status, counters and progress; the API and the CLI's
    ``--json`` print this same shape."""

    id: str
    workspace_id: str
    sync_id: str
    sync_name: str | None
    type: str
    trigger: str
    mode: str
    status: str
    counters: dict[str, int] = Field(
        description="read, unchanged, added, changed, removed, skipped, ok, sent, pending,"
        " failed, not_sent"
    )
    progress: dict[str, Any] | None = Field(
        description="While running: items done of total and batches done."
    )
    error: str | None
    infos: dict[str, Any] = Field(
        description="Everything the run recorded: stage, progress, guard, snapshot, error."
    )
    ran_at: datetime = Field(
        description="When it ran: started, else scheduled, else created (lists order by it)."
    )
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = Field(
        None, description="When the retention hid it (hidden runs are not listed)."
    )
    scheduled_for: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None
    runner: str | None
    created_by_user_id: str | None

    @classmethod
    def of(cls, run: Run) -> RunOut:
        return cls(
            id=run.id,
            workspace_id=run.workspace_id,
            sync_id=run.sync_id,
            sync_name=run.sync_name,
            type=run.type,
            trigger=run.trigger.value,
            mode=run.mode.value,
            status=run.status.value,
            counters=run.counters.as_dict(),
            progress=run.infos.get("progress"),
            error=run.error,
            infos=run.infos,
            ran_at=run.when,
            created_at=run.created_at,
            updated_at=run.updated_at,
            deleted_at=run.deleted_at,
            scheduled_for=run.scheduled_for,
            started_at=run.started_at,
            ended_at=run.ended_at,
            duration_seconds=run.duration_seconds,
            runner=run.runner,
            created_by_user_id=run.created_by_user_id,
        )


class RunIn(BaseModel):
    """How to start a run."""

    full: bool = Field(False, description="Resend everything and rebuild the snapshot.")


class SyncPage(BaseModel):
    """A page of syncs; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[SyncOut]
    next_cursor: str | None


class RunPage(BaseModel):
    """A page of runs, newest first; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[RunOut]
    next_cursor: str | None


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != size:
        raise ConfigError("not a cursor this list gave", field="cursor")
    return values


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of a list; pass ``next_cursor`` as ``cursor`` for the next one (null: the
    last page)."""

    items: list[T]
    next_cursor: str | None


def page_by_name(
    found: list[T], key: Callable[[T], tuple[str, str]], limit: int, cursor: str | None
) -> tuple[list[T], str | None]:
    """A page of a short list held whole (configured objects, members), in ``key`` order
    (a name, then an id: stable and total)."""
    ordered = sorted(found, key=key)
    if cursor:
        after = tuple(decode_cursor(cursor, 2))
        ordered = [item for item in ordered if key(item) > after]
    page = ordered[:limit]
    more = len(ordered) > limit
    return page, encode_cursor(*key(page[-1])) if more else None


Limit = Annotated[int, Query(ge=1, le=500, description="At most this many items.")]
Cursor = Annotated[str | None, Query(description="The previous page's next_cursor.")]
