"""Config as code over HTTP: a whole configuration document, checked and shown as a dry run,
then applied in one transaction; and the audit log of who changed what."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from syncwright.api.deps import Admin
from syncwright.api.problems import RESPONSES
from syncwright.api.schemas import decode_cursor, encode_cursor
from syncwright.services.config_file import ConfigDoc

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", responses=RESPONSES)

#: Where configuration documents are posted: their bodies may be larger than others
#: (``SYNCWRIGHT_MAX_CONFIG_BODY``).
DOCUMENT_PATH = re.compile(r"/api/v1/workspaces/[^/]+/config")


class ChangeOut(BaseModel):
    """What applying did (or would do) to one object."""

    kind: str
    name: str
    action: str


class ApplyOut(BaseModel):
    """The outcome of an apply; with ``dry_run`` nothing was written."""

    dry_run: bool
    changes: list[ChangeOut]


class AuditOut(BaseModel):
    """One recorded action; ``user_id`` is null for the command line and the engine."""

    id: int
    at: datetime
    user_id: str | None
    action: str
    object_type: str
    object_id: str | None
    object_name: str | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    """A page of the audit log, newest first."""

    items: list[AuditOut]
    next_cursor: str | None


@router.post("/config", response_model=ApplyOut, tags=["config"])
def apply_config(
    body: ConfigDoc,
    acting: Admin,
    dry_run: Annotated[
        bool, Query(description="Check and show the changes; write nothing.")
    ] = False,
    skip_check: Annotated[
        bool,
        Query(
            description="Do not connect to the sources and destinations first (one is in"
            " maintenance); models' queries are then not tried either."
        ),
    ] = False,
) -> ApplyOut:
    """Create or update sources, models, destinations and syncs from a configuration document
    (the YAML file's shape, as JSON), all or nothing, naming the first wrong field (admin).
    Every source and destination must connect first, and every model's query must run with
    its primary key among its columns (unless ``skip_check``). ``${VAR}`` is not expanded
    here; relative file paths are read from the server's home folder."""
    changes = acting.ws.configs.apply(
        body,
        base_dir=acting.ws.objects.base_dir,
        dry_run=dry_run,
        user_id=acting.user_id,
        check_connections=not skip_check,
    )
    return ApplyOut(
        dry_run=dry_run,
        changes=[ChangeOut(kind=c.kind, name=c.name, action=c.action) for c in changes],
    )


@router.get("/audit", response_model=AuditPage, tags=["config"])
def audit(
    acting: Admin,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many events.")] = 100,
    cursor: Annotated[str | None, Query(description="The previous page's next_cursor.")] = None,
    action: Annotated[str | None, Query(description="e.g. sync.updated, run.started")] = None,
    object_type: Annotated[
        str | None, Query(description="source, model, destination, sync, run, user")
    ] = None,
    object_id: Annotated[str | None, Query(description="One object's events.")] = None,
    user_id: Annotated[str | None, Query(description="One user's actions.")] = None,
) -> AuditPage:
    """Configuration changes and manual actions in the workspace, newest first (admin)."""
    before = None
    if cursor:
        (before,) = decode_cursor(cursor, 1)
    found = acting.ws.objects.audit_log(
        before_id=before if isinstance(before, int) else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        user_id=user_id,
        limit=limit + 1,
    )
    page = found[:limit]
    return AuditPage(
        items=[AuditOut(**{k: getattr(e, k) for k in AuditOut.model_fields}) for e in page],
        next_cursor=encode_cursor(page[-1].id) if len(found) > limit else None,
    )
