"""``/api/v1/workspaces/{id}/entries``: the sync report. Search, filter, sort and page the
entries; an item's history; error groups; the CSV export, streamed; resync."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from syncwright.api.deps import Operator, Viewer
from syncwright.api.problems import RESPONSES
from syncwright.api.schemas import Instant, RunOut
from syncwright.domain.entry import Entry
from syncwright.domain.errors import ConfigError
from syncwright.domain.report import SORTABLE
from syncwright.domain.statuses import EntryStatus, Operation
from syncwright.services.report import Search

router = APIRouter(
    prefix="/api/v1/workspaces/{workspace_id}/entries", tags=["entries"], responses=RESPONSES
)


class EntryOut(BaseModel):
    """One item's outcome in one run."""

    id: int
    run_id: str
    sync_id: str
    sync_name: str | None
    reference: str
    item_key: str
    system: str
    source_id: str
    endpoint_id: str | None
    operation: Operation
    status: EntryStatus
    attempts: int
    error: str | None
    error_group: str | None
    retry_of: int | None
    payload: str | None = Field(description="What was sent (kept for a shorter time).")
    created_at: datetime
    updated_at: datetime
    latest_status: EntryStatus | None = Field(None, description="With latest=true.")
    latest_at: datetime | None = None

    @classmethod
    def of(cls, e: Entry) -> EntryOut:
        return cls(
            id=e.id,
            run_id=e.run_id,
            sync_id=e.sync_id,
            sync_name=e.sync_name,
            reference=e.reference,
            item_key=e.item_key,
            system=e.system,
            source_id=e.source_id,
            endpoint_id=e.endpoint_id,
            operation=e.operation,
            status=e.status,
            attempts=e.attempts,
            error=e.error,
            error_group=e.error_group,
            retry_of=e.retry_of,
            payload=e.payload,
            created_at=e.created_at,
            updated_at=e.updated_at,
            latest_status=e.latest_status,
            latest_at=e.latest_at,
        )


class EntryPage(BaseModel):
    """A page of entries; pass ``next_cursor`` as ``cursor`` (same sort) for the next one."""

    items: list[EntryOut]
    next_cursor: str | None


class ErrorGroupOut(BaseModel):
    """Failed entries sharing a normalised reason, with the newest as a sample."""

    group: str
    count: int
    sample: EntryOut


class EntrySearch(BaseModel):
    """Which entries: every field narrows the selection."""

    sync: str | None = Field(None, description="A sync's id or name.")
    run_id: str | None = Field(
        None, description="A run's id, or its first characters (the 8 that pages show)."
    )
    status: list[EntryStatus] = Field(default_factory=list)
    operation: list[Operation] = Field(default_factory=list)
    system: str | None = Field(None, description="The destination's name as recorded.")
    destination: str | None = Field(None, description="A destination's name: its syncs.")
    reference: str | None = None
    prefix: bool = Field(False, description="Match references starting with ``reference``.")
    error_group: str | None = None
    entry_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(default_factory=list)
    since: Instant | None = None
    until: Instant | None = None
    days: float | None = Field(
        None, gt=0, description="The last days (default 5), if no since; up to the retention."
    )
    latest_only: bool = Field(False, description="Only entries that are their item's newest.")

    def search(self) -> Search:
        return Search(
            sync=self.sync,
            run_id=self.run_id,
            statuses=tuple(self.status),
            operations=tuple(self.operation),
            system=self.system,
            destination=self.destination,
            reference=self.reference,
            prefix=self.prefix,
            error_group=self.error_group,
            entry_ids=tuple(self.entry_ids),
            since=self.since,
            until=self.until,
            days=self.days,
            latest_only=self.latest_only,
        )


class EntryQuery(EntrySearch):
    """Which entries, in which order, from which page on."""

    sort: Literal[SORTABLE] = "id"  # type: ignore[valid-type]
    order: Literal["asc", "desc"] = "desc"
    cursor: str | None = None
    limit: int = Field(100, ge=1, le=1000)
    latest: bool = Field(False, description="Add each item's newest status across runs.")


class ResyncIn(EntrySearch):
    """The entries to send again: by ``entry_ids``, or by any filter of the report."""


@router.get("", response_model=EntryPage)
def list_entries(acting: Viewer, q: Annotated[EntryQuery, Query()]) -> EntryPage:
    """The report's entries, filtered, sorted by any column, a keyset page at a time."""
    try:
        page = acting.ws.report.page(
            q.search(),
            sort=q.sort,
            descending=q.order == "desc",
            after=q.cursor,
            limit=q.limit,
            latest=q.latest,
        )
    except ConfigError as exc:
        if exc.field == "after":
            raise ConfigError(exc.message, field="cursor") from None
        raise
    return EntryPage(items=[EntryOut.of(e) for e in page.entries], next_cursor=page.next)


@router.get("/history", response_model=list[EntryOut])
def history(
    acting: Viewer,
    reference: Annotated[str, Query(description="The item's reference.")],
    sync: Annotated[str | None, Query(description="Only this sync (id or name).")] = None,
) -> list[EntryOut]:
    """Every entry of one reference across runs, newest first, over the whole retention."""
    return [EntryOut.of(e) for e in acting.ws.report.history(reference, sync=sync)]


@router.get("/errors", response_model=list[ErrorGroupOut])
def error_groups(acting: Viewer, q: Annotated[EntrySearch, Query()]) -> list[ErrorGroupOut]:
    """Failed entries grouped by normalised reason, biggest group first."""
    return [
        ErrorGroupOut(group=g.group, count=g.count, sample=EntryOut.of(g.sample))
        for g in acting.ws.report.error_groups(q.search())
    ]


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The entries as CSV."}},
)
def export_csv(acting: Viewer, q: Annotated[EntryQuery, Query()]) -> StreamingResponse:
    """Exactly the entries the filter matches, as CSV (header first), streamed as read: any
    number of entries in constant memory. ``cursor`` and ``limit`` do not apply."""
    chunks = acting.ws.report.csv_chunks(
        q.search(), sort=q.sort, descending=q.order == "desc", latest=q.latest
    )
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="entries.csv"'},
    )


class EntryDetailOut(BaseModel):
    """One entry with what went to the destination and came back, and what changed since
    the item's previous version."""

    entry: EntryOut
    exchange: dict[str, Any] | None = Field(
        description="For a failure the destination answered: request (method, URL with"
        " credentials masked, body after templates) and response (status, body), the first"
        " 4 KiB of each body."
    )
    previous_id: int | None = Field(description="The item's entry before, with its fields.")
    changes: list[dict[str, Any]] = Field(description="field, before, now: what differs.")


@router.get("/{entry_id}", response_model=EntryDetailOut)
def entry_detail(
    entry_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="The entry's id.")],
    acting: Viewer,
) -> EntryDetailOut:
    """One entry, with the request and the answer that failed it, and its changes."""
    found = acting.ws.report.entry(entry_id)
    return EntryDetailOut(
        entry=EntryOut.of(found.entry),
        exchange=found.exchange,
        previous_id=found.previous.id if found.previous else None,
        changes=[{"field": f, "before": b, "now": n} for f, b, n in found.changes],
    )


@router.post("/resync", response_model=list[RunOut], status_code=202)
def resync(body: ResyncIn, acting: Operator, response: Response) -> list[RunOut]:
    """Send the selected entries' items again: one run per sync they belong to, each entry
    of which links back to the entry it resyncs (operator). Answers 202 with the runs."""
    selection = acting.ws.report.filter(body.search())
    started = acting.ws.runs.resync(selection, user_id=acting.user_id)
    if started:
        response.headers["Location"] = (
            f"/api/v1/workspaces/{acting.ws.workspace_id}/runs/{started[0].id}"
        )
    return [RunOut.of(r) for r in started]
