"""The sync report page: entries searched, filtered on every column, sorted, keyset-paged;
extra columns on demand; select entries (or all that match) and resync them; the CSV of
exactly what is filtered; an item's history across runs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import Response, StreamingResponse

from syncwright.domain.clock import utcnow
from syncwright.domain.errors import ConfigError
from syncwright.domain.report import DEFAULT_DAYS, SORTABLE
from syncwright.domain.statuses import EntryStatus, Operation
from syncwright.services.report import Search
from syncwright.web.session import Form as CheckedForm
from syncwright.web.session import Operator, PageRoute, Reader, done

router = APIRouter(
    prefix="/w/{workspace_id}/report", route_class=PageRoute, include_in_schema=False
)

EXTRA_COLUMNS = {
    "source_id": "Source id",
    "endpoint_id": "Endpoint id",
    "latest": "Latest sync",
}
PAGE = 100
#: The status chips count up to this many entries each (then say "10,000+").
COUNT_CAP = 10_000


@dataclass
class ReportFilter:
    """The report's filter as the page's form and links carry it."""

    reference: str = ""
    prefix: bool = False
    system: str = ""
    sync: str = ""
    run: str = ""
    group: str = ""
    status: list[str] = field(default_factory=list)
    operation: list[str] = field(default_factory=list)
    #: None: the last 5 days, or the whole retention for a run.
    days: float | None = None
    #: Only each item's latest entry.
    latest_only: bool = False

    def search(self, entry_ids: tuple[int, ...] = ()) -> Search:
        try:
            statuses = tuple(EntryStatus(s) for s in self.status)
        except ValueError:
            raise ConfigError(
                f"a status is one of {', '.join(EntryStatus)}", field="status"
            ) from None
        try:
            operations = tuple(Operation(o) for o in self.operation)
        except ValueError:
            raise ConfigError(
                f"an operation is one of {', '.join(Operation)}", field="operation"
            ) from None
        return Search(
            reference=self.reference.strip() or None,
            prefix=self.prefix,
            system=self.system.strip() or None,
            sync=self.sync or None,
            run_id=self.run.strip() or None,
            error_group=self.group or None,
            statuses=statuses,
            operations=operations,
            days=self.days,
            entry_ids=entry_ids,
            latest_only=self.latest_only,
        )

    def params(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "prefix": "on" if self.prefix else None,
            "system": self.system,
            "sync": self.sync,
            "run": self.run,
            "group": self.group,
            "status": self.status,
            "operation": self.operation,
            "days": f"{self.days:g}" if self.days else None,
            "latest_only": "on" if self.latest_only else None,
        }

    def file_name(self, today: date, sync_name: str | None = None) -> str:
        """A CSV's name that says what it holds: ``sync-report_failed_run-1a2b3c4d_…_2026-12-07.csv``."""
        parts = ["sync-report"]
        parts += self.status + self.operation
        for label, value in (
            ("", sync_name or self.sync),
            ("run-", self.run.strip()[:8]),
            ("", self.reference.strip() + ("*" if self.prefix else "")),
            ("", self.system.strip()),
            ("group-", self.group[:30]),
        ):
            if value and value != "*":
                parts.append(label + value)
        if self.days:
            parts.append(f"{self.days:g}d")
        if self.latest_only:
            parts.append("latest")
        parts.append(today.isoformat())
        safe = [re.sub(r"[^A-Za-z0-9.*+-]+", "-", p).strip("-") or "x" for p in parts]
        return "_".join(safe).replace("*", "+")[:180] + ".csv"


def report_filter(
    reference: str = "",
    prefix: str = "",
    system: str = "",
    sync: str = "",
    run: str = "",
    group: str = "",
    status: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
    operation: Annotated[list[str], Query()] = [],  # noqa: B006
    days: str = "",
    latest_only: str = "",
) -> ReportFilter:
    return ReportFilter(
        reference=reference,
        prefix=bool(prefix),
        system=system,
        sync=sync,
        run=run,
        group=group,
        status=status,
        operation=operation,
        days=positive(days, "days"),
        latest_only=bool(latest_only),
    )


def positive(value: str, field: str) -> float | None:
    """A number above 0 from a form (an empty field: none)."""
    if not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"must be a number, got {value!r}", field=field) from None
    if not 0 < number < float("inf"):
        raise ConfigError(f"must be above 0, got {value!r}", field=field)
    return number


Filtered = Annotated[ReportFilter, Depends(report_filter)]


def _windows(retention_days: float) -> list[float]:
    return sorted({d for d in (1, 2, 7, 14, 30, 60, 90) if d <= retention_days} | {retention_days})


def _sort(sort: str, order: str) -> tuple[str, bool]:
    if sort not in SORTABLE:
        raise ConfigError(f"cannot sort by {sort!r}; one of {', '.join(SORTABLE)}", field="sort")
    if order not in ("asc", "desc"):
        raise ConfigError("asc or desc", field="order")
    return sort, order == "desc"


@router.get("")
def report_page(
    viewer: Reader,
    f: Filtered,
    sort: str = "id",
    order: str = "desc",
    cursor: str = "",
    cols: Annotated[list[str], Query()] = [],  # noqa: B006
) -> Response:
    column, descending = _sort(sort, order)
    shown = [c for c in cols if c in EXTRA_COLUMNS]
    page = viewer.services.report.page(
        f.search(),
        sort=column,
        descending=descending,
        after=cursor or None,
        limit=PAGE,
        latest="latest" in shown,
    )
    params = {**f.params(), "sort": sort, "order": order, "cols": shown}
    search = f.search()
    # Every status's count under the other filters: a chip adds or drops its status.
    counts = viewer.services.report.status_counts(replace(search, statuses=()), cap=COUNT_CAP)
    matching = {s: n for s, n in counts.items() if not f.status or s in f.status}
    # The error groups of what the other filters match, to pick one from.
    groups = viewer.services.report.group_counts(replace(search, error_group=None))
    return viewer.render(
        "report.html",
        counts=counts,
        total=sum(matching.values()),
        capped=any(n >= COUNT_CAP for n in matching.values()),
        cap=COUNT_CAP,
        groups=groups,
        csv_name=f.file_name(utcnow().date(), _sync_name(viewer, f.sync)),
        entries=page.entries,
        next_cursor=page.next,
        first_page=not cursor,
        f=f,
        params=params,
        cols=shown,
        extra=EXTRA_COLUMNS,
        syncs=viewer.services.syncs.list(),
        statuses=[s.value for s in EntryStatus],
        operations=[o.value for o in Operation],
        windows=_windows(viewer.sw.settings.retention.entry_days),
        default_days=DEFAULT_DAYS,
        sortable=SORTABLE,
    )


@router.get("/export.csv")
def export(
    viewer: Reader,
    f: Filtered,
    sort: str = "id",
    order: str = "desc",
    cols: Annotated[list[str], Query()] = [],  # noqa: B006
) -> Response:
    """Exactly the entries the page's filter matches, streamed."""
    column, descending = _sort(sort, order)
    chunks = viewer.services.report.csv_chunks(
        f.search(), sort=column, descending=descending, latest="latest" in cols
    )
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": (
                f'attachment; filename="{f.file_name(utcnow().date(), _sync_name(viewer, f.sync))}"'
            )
        },
    )


def _sync_name(viewer: Any, sync: str) -> str | None:
    if not sync:
        return None
    return next((s.name for s in viewer.services.syncs.list() if sync in (s.id, s.name)), None)


@router.post("/resync", dependencies=[CheckedForm])
def resync(
    viewer: Operator,
    f: Filtered,
    scope: Annotated[str, Form()] = "selected",
    entry_id: Annotated[list[int], Form()] = [],  # noqa: B006
) -> Response:
    """Resync the ticked entries, or every entry the filter (in the form's query string)
    matches (``scope=all``)."""
    if scope == "all":
        search = f.search()
    elif entry_id:
        search = Search(entry_ids=tuple(entry_id))
    else:
        raise ConfigError("tick the entries to resync, or choose all that match", field="entry_id")
    started = viewer.services.runs.resync(
        viewer.services.report.filter(search), user_id=viewer.user.id
    )
    names = ", ".join(sorted({r.sync_name or r.sync_id for r in started}))
    return done(
        f"{viewer.base}/runs",
        f"Resync started: {len(started)} run{'s' if len(started) != 1 else ''} ({names}).",
    )


@router.get("/entries/{entry_id}")
def entry_page(entry_id: int, viewer: Reader) -> Response:
    """One entry: what it is, what was sent and what came back, what changed since the
    item's previous version, and a resync of the item."""
    detail = viewer.services.report.entry(entry_id)
    return viewer.render("entry.html", d=detail, e=detail.entry)


@router.get("/history")
def history(viewer: Reader, reference: str, sync: str = "") -> Response:
    entries = viewer.services.report.history(reference, sync=sync or None)
    return viewer.render("history.html", reference=reference, sync=sync, entries=entries)
