"""The synchronisations page (every run of the workspace) and a run's page: live progress,
counters, error groups with their resync, cancel, approval of a run the guard stopped,
entries."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Query
from fastapi.responses import Response

from syncwright.api.artifacts import serve_file
from syncwright.domain.clock import utcnow
from syncwright.domain.errors import ConfigError, NotFound
from syncwright.domain.run import RUN_SORTS, Run, RunFilter
from syncwright.domain.statuses import EntryStatus, RunStatus, Trigger
from syncwright.services.report import Search
from syncwright.web.report import positive
from syncwright.web.session import Form as CheckedForm
from syncwright.web.session import Operator, PageRoute, Reader, done

router = APIRouter(prefix="/w/{workspace_id}/runs", route_class=PageRoute, include_in_schema=False)

PAGE = 50
#: Entries a run's page lists (failed ones first); the report has them all.
ENTRIES = 50


def _choice(value: str, allowed: list[str], field: str) -> str:
    if value and value not in allowed:
        raise ConfigError(f"{value!r} is not one of {', '.join(allowed)}", field=field)
    return value


@router.get("")
def synchronisations(
    viewer: Reader,
    status: str = "",
    type: str = "",
    trigger: str = "",
    sync: str = "",
    days: str = "",
    sort: str = "ran_at",
    order: str = "desc",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    _choice(status, [s.value for s in RunStatus], "status")
    _choice(trigger, [t.value for t in Trigger], "trigger")
    _choice(sort, list(RUN_SORTS), "sort")
    _choice(order, ["asc", "desc"], "order")
    window = positive(days, "days")
    syncs = viewer.services.syncs.list()
    if sync:
        viewer.services.syncs.get(sync)
    found = viewer.services.runs.list(
        RunFilter(
            sync_id=sync or None,
            status=RunStatus(status) if status else None,
            type=type or None,
            trigger=Trigger(trigger) if trigger else None,
            since=utcnow() - timedelta(days=window) if window else None,
        ),
        sort=sort,
        descending=order == "desc",
        limit=PAGE + 1,
        offset=(page - 1) * PAGE,
    )
    params: dict[str, Any] = {
        "status": status,
        "type": type,
        "trigger": trigger,
        "sync": sync,
        "days": window,
        "sort": sort,
        "order": order,
    }
    return viewer.render(
        "runs.html",
        runs=found[:PAGE],
        more=len(found) > PAGE,
        page=page,
        params=params,
        syncs=syncs,
        statuses=[s.value for s in RunStatus],
        triggers=[t.value for t in Trigger],
        types=sorted({s.type for s in syncs} | {"resync"}),
        names=_emails(viewer, found[:PAGE]),
    )


def _emails(viewer: Any, runs: list[Run]) -> dict[str, str]:
    """Who started each run, by user id (one lookup for the page)."""
    return viewer.sw.accounts.emails({r.created_by_user_id for r in runs})


@router.post("", dependencies=[CheckedForm])
def start(
    viewer: Operator, sync: Annotated[str, Form()], full: Annotated[str, Form()] = ""
) -> Response:
    chosen = viewer.services.syncs.get(sync)
    viewer.services.runs.trigger(chosen.name, full=bool(full), user_id=viewer.user.id)
    return done(
        f"{viewer.base}/runs", f"{'A full resync' if full else 'A run'} of {chosen.name} is queued."
    )


def progress(run: Run) -> dict[str, Any] | None:
    """Stage, items done of total, rate and time left of a live run."""
    if not run.status.is_live:
        return None
    seen = run.infos.get("progress") or {}
    done_items, total = int(seen.get("done", 0)), int(seen.get("total", 0))
    elapsed = (utcnow() - run.started_at).total_seconds() if run.started_at else 0.0
    rate = done_items / elapsed if elapsed > 0 and done_items else None
    left = (total - done_items) / rate if rate and total > done_items else None
    return {
        "stage": run.status.value,
        "done": done_items,
        "total": total,
        "percent": round(100 * done_items / total) if total else 0,
        "rate": rate,
        "left": left,
    }


#: How long a cancelled run's page waits for the batch that was out to be recorded.
SETTLING = timedelta(minutes=2)


def settling(run: Run) -> bool:
    """A run cancelled while delivering whose batch in flight may still land (its page
    refreshes until it has, or for ``SETTLING`` at most)."""
    return bool(
        run.status is RunStatus.ABORTED
        and run.infos.get("settling")
        and run.ended_at is not None
        and utcnow() - run.ended_at < SETTLING
    )


@router.get("/{run_id}")
def run_page(run_id: str, viewer: Reader) -> Response:
    run = viewer.services.runs.get(run_id)
    report = viewer.services.report
    groups = report.error_groups(Search(run_id=run.id)) if run.counters.failed else []
    # Failures first, then the other entries, newest first.
    failed = (
        report.page(Search(run_id=run.id, statuses=(EntryStatus.FAILED,)), limit=ENTRIES)
        if run.counters.failed
        else None
    )
    shown = failed.entries if failed else []
    if len(shown) < ENTRIES:
        others = tuple(s for s in EntryStatus if s is not EntryStatus.FAILED)
        shown = shown + report.page(Search(run_id=run.id, statuses=others), limit=ENTRIES).entries
        shown = shown[:ENTRIES]
    c = run.counters
    recorded = c.ok + c.sent + c.pending + c.failed + c.not_sent
    try:
        artifact = viewer.services.syncs.run_artifact(run.id)
    except NotFound:  # most runs publish no file
        artifact = None
    emails = viewer.sw.accounts.emails([run.created_by_user_id, run.infos.get("cancelled_by")])
    return viewer.render(
        "run.html",
        run=run,
        live=progress(run),
        settling=settling(run),
        problems=run.counters.problems(),
        groups=groups,
        entries=shown,
        more_entries=recorded > len(shown),
        artifact=artifact,
        started_by=emails.get(run.created_by_user_id or ""),
        cancelled_by=emails.get(str(run.infos.get("cancelled_by") or "")),
        infos_text=json.dumps(run.infos, indent=2, sort_keys=True, default=str),
    )


@router.post("/{run_id}/approve", dependencies=[CheckedForm])
def approve(run_id: str, viewer: Operator) -> Response:
    approving = viewer.services.runs.approve(run_id, user_id=viewer.user.id)
    return done(f"{viewer.base}/runs/{approving.id}", "Approved: this run goes on.")


@router.post("/{run_id}/cancel", dependencies=[CheckedForm])
def cancel(run_id: str, viewer: Operator) -> Response:
    viewer.services.runs.cancel(run_id, user_id=viewer.user.id)
    return done(f"{viewer.base}/runs/{run_id}", "The run is cancelled.")


@router.post("/{run_id}/resync", dependencies=[CheckedForm])
def resync_group(run_id: str, viewer: Operator, group: Annotated[str, Form()]) -> Response:
    run = viewer.services.runs.get(run_id)
    selection = viewer.services.report.filter(Search(run_id=run.id, error_group=group))
    started = viewer.services.runs.resync(selection, user_id=viewer.user.id)
    return done(
        f"{viewer.base}/runs/{started[0].id}",
        f"Resyncing the failed items of “{group}”.",
    )


@router.get("/{run_id}/file")
def run_file(
    run_id: str, viewer: Reader, if_none_match: Annotated[str | None, Header()] = None
) -> Response:
    return serve_file(viewer.services.syncs.run_artifact(run_id), if_none_match)
