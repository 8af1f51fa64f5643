"""``/api/v1/workspaces/{id}/syncs``: list, read, create, replace, file, delete, turn on
and off, start runs, dry runs, the webhook URL."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from syncwright.api.deps import Admin, Operator, Viewer
from syncwright.api.problems import RESPONSES
from syncwright.api.schemas import (
    Cursor,
    Limit,
    RunIn,
    RunOut,
    SyncOut,
    SyncPage,
    page_by_name,
)
from syncwright.services.config_file import SyncDoc

router = APIRouter(
    prefix="/api/v1/workspaces/{workspace_id}/syncs", tags=["syncs"], responses=RESPONSES
)


@router.get("", response_model=SyncPage)
def list_syncs(
    acting: Viewer,
    limit: Limit = 100,
    cursor: Cursor = None,
    enabled: Annotated[bool | None, Query(description="Only enabled (or disabled) syncs.")] = None,
    folder: Annotated[str | None, Query(description="Only syncs in this folder.")] = None,
    label: Annotated[str | None, Query(description="Only syncs with this label.")] = None,
    search: Annotated[str | None, Query(description="Part of the name, any case.")] = None,
) -> SyncPage:
    """The workspace's syncs, active and disabled, by name then id."""
    found = [
        s
        for s in acting.ws.syncs.list()
        if (enabled is None or s.enabled == enabled)
        and (folder is None or s.folder == folder)
        and (label is None or label in s.labels)
        and (search is None or search.lower() in s.name.lower())
    ]
    page, more = page_by_name(found, lambda s: (s.name, s.id), limit, cursor)
    return SyncPage(items=[SyncOut.of(s) for s in page], next_cursor=more)


@router.get("/{sync_id}", response_model=SyncOut)
def get_sync(sync_id: str, acting: Viewer) -> SyncOut:
    """One sync."""
    return SyncOut.of(acting.ws.syncs.get(sync_id))


@router.post("/{sync_id}/enable", response_model=SyncOut)
def enable_sync(sync_id: str, acting: Operator) -> SyncOut:
    """Turn a sync on: its schedule runs again and it can be started (operator)."""
    sync = acting.ws.syncs.get(sync_id)
    return SyncOut.of(acting.ws.runs.set_enabled(sync.name, True, user_id=acting.user_id))


@router.post("/{sync_id}/disable", response_model=SyncOut)
def disable_sync(sync_id: str, acting: Operator) -> SyncOut:
    """Turn a sync off: no scheduled runs, and starting one is refused (operator)."""
    sync = acting.ws.syncs.get(sync_id)
    return SyncOut.of(acting.ws.runs.set_enabled(sync.name, False, user_id=acting.user_id))


@router.post("/{sync_id}/runs", response_model=RunOut, status_code=202)
def start_run(
    sync_id: str, acting: Operator, response: Response, body: RunIn | None = None
) -> RunOut:
    """Start a run (``full``: a full resync). Answers 202 at once, with the run's URL in
    ``Location``; the run goes on in the engine (operator)."""
    sync = acting.ws.syncs.get(sync_id)
    run = acting.ws.runs.trigger(sync.name, full=bool(body and body.full), user_id=acting.user_id)
    response.headers["Location"] = f"/api/v1/workspaces/{acting.ws.workspace_id}/runs/{run.id}"
    return RunOut.of(run)


class DryRunIn(BaseModel):
    """``full``: compare every row, as a full resync would; ``sample``: items shown of each
    operation."""

    full: bool = False
    sample: int = Field(5, ge=0, le=50)


class DryRunItem(BaseModel):
    operation: str
    key: dict[str, Any]
    reference: str | None
    fields: dict[str, Any] | None


class DryRunOut(BaseModel):
    """What a run would deliver now: the counters it would start with, how many changes the
    write mode delivers, why the guard would stop it (``null`` if it would not), and sample
    items."""

    counters: dict[str, int]
    deliverable: int
    guard: str | None
    samples: list[DryRunItem]


@router.post("/{sync_id}/dry-run", response_model=DryRunOut)
def dry_run(sync_id: str, acting: Operator, body: DryRunIn | None = None) -> DryRunOut:
    """Read the model and compare it with what was delivered, as a run would, without
    writing anything: counts, the guard's verdict and sample items (operator)."""
    sync = acting.ws.syncs.get(sync_id)
    asked = body or DryRunIn()
    found = acting.ws.runs.dry_run(sync.name, full=asked.full, sample=asked.sample)
    return DryRunOut(
        counters=found.counters.as_dict(),
        deliverable=found.deliverable,
        guard=found.guard,
        samples=[DryRunItem(**item) for item in found.samples],
    )


class SyncIn(SyncDoc):
    """A new sync, as in a configuration file: its name, ``model`` and ``destination`` (by
    name), mode, schedule and triggers."""

    name: str = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_.-]+$")


class SyncPatch(BaseModel):
    """Where a sync is filed: a folder (``null`` takes it out of any) and its labels."""

    folder: str | None = Field(None, max_length=200)
    labels: list[str] | None = None


@router.post("", response_model=SyncOut, status_code=201)
def create_sync(body: SyncIn, acting: Admin, response: Response) -> SyncOut:
    """Create a sync (admin); 409 when the name is taken. Its schedule starts at once."""
    doc = SyncDoc.model_validate(body.model_dump(exclude={"name"}))
    new_id = acting.ws.objects.create("sync", body.name, doc, user_id=acting.user_id)
    response.headers["Location"] = f"/api/v1/workspaces/{acting.ws.workspace_id}/syncs/{new_id}"
    return SyncOut.of(acting.ws.syncs.get(new_id))


@router.put("/{sync_id}", response_model=SyncOut)
def replace_sync(sync_id: str, body: SyncDoc, acting: Admin) -> SyncOut:
    """Replace a sync's configuration (admin); its name stays. Runs follow the new one."""
    acting.ws.objects.replace("sync", sync_id, body, user_id=acting.user_id)
    return SyncOut.of(acting.ws.syncs.get(sync_id))


@router.patch("/{sync_id}", response_model=SyncOut)
def organise_sync(sync_id: str, body: SyncPatch, acting: Admin) -> SyncOut:
    """Move a sync to a folder and set its labels (admin); fields left out stay."""
    given = body.model_fields_set
    acting.ws.objects.organise(
        sync_id,
        folder=body.folder,
        clear_folder="folder" in given and body.folder is None,
        labels=body.labels if "labels" in given else None,
        user_id=acting.user_id,
    )
    return SyncOut.of(acting.ws.syncs.get(sync_id))


@router.delete("/{sync_id}", status_code=204)
def delete_sync(sync_id: str, acting: Admin) -> None:
    """Delete a sync (admin): a soft delete, its runs and report stay; its planned runs go
    and its webhook stops. 409 while a run is live or other syncs run after it."""
    acting.ws.objects.delete("sync", sync_id, user_id=acting.user_id)


class WebhookOut(BaseModel):
    """A sync's webhook trigger. ``url`` (with its secret) is shown only when the secret is
    made: keep it then; later answers say since when the current one exists."""

    created_at: datetime | None
    url: str | None = None


@router.post("/{sync_id}/webhook", response_model=WebhookOut)
def webhook_url(
    sync_id: str,
    acting: Admin,
    rotate: Annotated[bool, Query(description="Make a new secret; the old one stops.")] = False,
) -> WebhookOut:
    """The sync's webhook trigger URL (the sync needs ``webhook: true``): a new secret when
    it has none or when rotating, shown once (admin)."""
    sync = acting.ws.syncs.get(sync_id)
    secret, created = acting.ws.runs.webhook(sync.name, rotate=rotate)
    return WebhookOut(created_at=created, url=f"/api/v1/hooks/{secret}" if secret else None)
