"""``/api/v1/workspaces/{id}/runs``: every run (synchronisation), one run, cancel,
approve a run the guard stopped."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from syncwright.api.deps import Operator, Viewer
from syncwright.api.problems import RESPONSES
from syncwright.api.schemas import Instant, RunOut, RunPage, decode_cursor, encode_cursor
from syncwright.domain.errors import ConfigError
from syncwright.domain.run import RunFilter
from syncwright.domain.statuses import RunStatus, Trigger

router = APIRouter(
    prefix="/api/v1/workspaces/{workspace_id}/runs", tags=["runs"], responses=RESPONSES
)


@router.get("", response_model=RunPage)
def list_runs(
    acting: Viewer,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many runs.")] = 50,
    cursor: Annotated[str | None, Query(description="The previous page's next_cursor.")] = None,
    status: Annotated[RunStatus | None, Query(description="Only runs in this status.")] = None,
    type: Annotated[str | None, Query(description="Only runs of this type.")] = None,
    trigger: Annotated[Trigger | None, Query(description="Only runs started this way.")] = None,
    sync_id: Annotated[str | None, Query(description="Only this sync's runs.")] = None,
    since: Annotated[
        Instant | None,
        Query(description="Ran (started, else scheduled, else created) at or after."),
    ] = None,
    until: Annotated[Instant | None, Query(description="Ran before.")] = None,
) -> RunPage:
    """The workspace's runs, the last to run first (by when they started, else were
    scheduled, else created), filtered by status, type, sync, trigger and time."""
    if sync_id is not None:
        acting.ws.syncs.get(sync_id)  # another workspace's sync is not found
    before = None
    if cursor:
        at, run_id = decode_cursor(cursor, 2)
        try:
            before = (datetime.fromisoformat(at), str(run_id))
        except (TypeError, ValueError):
            raise ConfigError("not a cursor this list gave", field="cursor") from None
    found = acting.ws.runs.list(
        RunFilter(
            sync_id=sync_id, status=status, type=type, trigger=trigger, since=since, until=until
        ),
        before=before,
        limit=limit + 1,
    )
    page = found[:limit]
    more = len(found) > limit
    return RunPage(
        items=[RunOut.of(r) for r in page],
        next_cursor=encode_cursor(page[-1].when, page[-1].id) if more else None,
    )


@router.get("/{run_id}", response_model=RunOut)
def get_run(run_id: str, acting: Viewer) -> RunOut:
    """One run, with its progress while it goes and its counters."""
    return RunOut.of(acting.ws.runs.get(run_id))


@router.post("/{run_id}/cancel", response_model=RunOut)
def cancel_run(run_id: str, acting: Operator) -> RunOut:
    """Abort a planned, queued or running run; the batch in flight is recorded when it lands
    (the run's counters follow), and items never sent are `not_sent` (operator)."""
    return RunOut.of(acting.ws.runs.cancel(run_id, user_id=acting.user_id))


@router.post("/{run_id}/approve", response_model=RunOut, status_code=202)
def approve_run(run_id: str, acting: Operator, response: Response) -> RunOut:
    """Approve a run its sync's guard stopped (its `infos.guard` says why) and go on: a new
    run, which the guard does not stop, finds the change set as it is now and delivers it.
    202 with the new run and its `Location`; 422 for a run the guard did not stop or one
    already approved (operator)."""
    run = acting.ws.runs.approve(run_id, user_id=acting.user_id)
    response.headers["Location"] = f"/api/v1/workspaces/{acting.ws.workspace_id}/runs/{run.id}"
    return RunOut.of(run)


schedule_router = APIRouter(
    prefix="/api/v1/workspaces/{workspace_id}", tags=["runs"], responses=RESPONSES
)


@schedule_router.get("/schedule", response_model=list[RunOut])
def schedule(acting: Viewer) -> list[RunOut]:
    """The upcoming runs: each planned run with when it is due, soonest first."""
    return [RunOut.of(r) for r in acting.ws.runs.upcoming()]
