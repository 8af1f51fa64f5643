"""``syncwright report``, ``resync`` and ``purge``: the sync report from a terminal."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from syncwright.bootstrap.app import EngineRole
from syncwright.cli import render
from syncwright.cli.common import console, errors, follow, open_app
from syncwright.domain.errors import ConfigError
from syncwright.domain.report import SORTABLE
from syncwright.domain.statuses import EntryStatus, Operation, RunStatus
from syncwright.services.report import Search

# Options shared by ``report`` and ``resync``: both select entries the same way.
_SYNC = typer.Option(None, "--sync", help="A sync's name or id.")
_RUN = typer.Option(None, "--run", help="A run's id.")
_STATUS = typer.Option(None, "--status", help="Repeat for several.")
_OPERATION = typer.Option(None, "--operation", help="Repeat for several.")
_SYSTEM = typer.Option(None, "--system", help="The system the entry went to.")
_DESTINATION = typer.Option(None, "--destination", help="A destination's name.")
_REFERENCE = typer.Option(None, "--reference", help="An item's reference.")
_PREFIX = typer.Option(False, "--prefix", help="Match references starting with --reference.")
_GROUP = typer.Option(None, "--error-group", help="A normalised failure reason (see --errors).")
_SINCE = typer.Option(None, "--since", help="ISO date or time (UTC unless it says).")
_UNTIL = typer.Option(None, "--until", help="ISO date or time (UTC unless it says).")
_DAYS = typer.Option(None, "--days", help="The last N days (default 5, up to the retention).")


def _when(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"not an ISO date or time: {value!r}", field=field) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _search(
    *,
    sync: str | None,
    run_id: str | None,
    status: list[EntryStatus] | None,
    operation: list[Operation] | None,
    system: str | None,
    destination: str | None,
    reference: str | None,
    prefix: bool,
    error_group: str | None,
    since: str | None,
    until: str | None,
    days: float | None,
    entry_ids: list[int] | None = None,
) -> Search:
    if prefix and not reference:
        raise ConfigError("--prefix needs --reference", field="prefix")
    return Search(
        sync=sync,
        run_id=run_id,
        statuses=tuple(status or ()),
        operations=tuple(operation or ()),
        system=system,
        destination=destination,
        reference=reference,
        prefix=prefix,
        error_group=error_group,
        entry_ids=tuple(entry_ids or ()),
        since=_when(since, "since"),
        until=_when(until, "until"),
        days=days,
    )


def report(
    sync: str | None = _SYNC,
    run_id: str | None = _RUN,
    status: list[EntryStatus] | None = _STATUS,
    operation: list[Operation] | None = _OPERATION,
    system: str | None = _SYSTEM,
    destination: str | None = _DESTINATION,
    reference: str | None = _REFERENCE,
    prefix: bool = _PREFIX,
    error_group: str | None = _GROUP,
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    days: float | None = _DAYS,
    sort: str = typer.Option("id", "--sort", help=f"One of: {', '.join(SORTABLE)}."),
    ascending: bool = typer.Option(False, "--asc", help="Oldest or smallest first."),
    after: str | None = typer.Option(None, "--after", help="The cursor a page printed."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    extra: bool = typer.Option(False, "--extra", help="Show source and endpoint ids."),
    latest: bool = typer.Option(False, "--latest", help="Show each item's newest status."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    csv_file: Path | None = typer.Option(
        None, "--csv", help="Write every matching entry to FILE ('-' for standard output)."
    ),
    history: str | None = typer.Option(
        None, "--history", help="Every entry of this reference across runs, newest first."
    ),
    errors_only: bool = typer.Option(
        False, "--errors", help="Failed entries grouped by normalised reason."
    ),
) -> None:
    """The sync report: entries of runs, newest first, over the last 5 days by default."""
    search = _search(
        sync=sync,
        run_id=run_id,
        status=status,
        operation=operation,
        system=system,
        destination=destination,
        reference=reference,
        prefix=prefix,
        error_group=error_group,
        since=since,
        until=until,
        days=days,
    )
    with open_app() as sw:
        if history is not None:
            found = sw.report.history(history, sync=sync)
            _show(found, as_json=as_json, extra=extra, latest=True, title=f"History of {history}")
            return
        if errors_only:
            groups = sw.report.error_groups(search)
            if as_json:
                render.print_json(console, [render.group_dict(g) for g in groups])
            else:
                console.print(render.groups_table(groups))
            return
        if csv_file is not None:
            _export(sw, csv_file, search, sort=sort, descending=not ascending, latest=latest)
            return
        page = sw.report.page(
            search, sort=sort, descending=not ascending, after=after, limit=limit, latest=latest
        )
    if as_json:
        render.print_json(
            console,
            {"entries": [render.entry_dict(e) for e in page.entries], "next": page.next},
        )
        return
    _show(page.entries, as_json=False, extra=extra, latest=latest, title="Sync report")
    if page.next:
        errors.print(f"more: --after {page.next}", highlight=False, soft_wrap=True)


def _show(found: list, *, as_json: bool, extra: bool, latest: bool, title: str) -> None:
    if as_json:
        render.print_json(console, [render.entry_dict(e) for e in found])
    else:
        console.print(
            render.entries_table(
                found, width=console.width, extra=extra, latest=latest, title=title
            )
        )


def _export(sw, target: Path, search: Search, **order: object) -> None:  # type: ignore[no-untyped-def]
    if str(target) == "-":
        written = sw.report.export_csv(sys.stdout, search, **order)
    else:
        with open(target, "w", newline="", encoding="utf-8") as out:
            written = sw.report.export_csv(out, search, **order)
    errors.print(f"{written} entries written to {target}", highlight=False)


def resync(
    entry_ids: list[int] = typer.Argument(None, help="Entry ids (the report's id column)."),
    sync: str | None = _SYNC,
    run_id: str | None = _RUN,
    status: list[EntryStatus] | None = _STATUS,
    operation: list[Operation] | None = _OPERATION,
    system: str | None = _SYSTEM,
    destination: str | None = _DESTINATION,
    reference: str | None = _REFERENCE,
    prefix: bool = _PREFIX,
    error_group: str | None = _GROUP,
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    days: float | None = _DAYS,
    wait: bool = typer.Option(False, "--wait", help="Follow the runs to their end."),
) -> None:
    """Send selected entries' items again, as a resync run per sync (the model's current
    rows; removed items are removed again). Select by ids or by the report's filters."""
    search = _search(
        sync=sync,
        run_id=run_id,
        status=status,
        operation=operation,
        system=system,
        destination=destination,
        reference=reference,
        prefix=prefix,
        error_group=error_group,
        since=since,
        until=until,
        days=days,
        entry_ids=entry_ids,
    )
    if search == Search(since=search.since, until=search.until, days=search.days):
        raise typer.BadParameter(
            "give entry ids or at least one filter (resync everything: run --full)"
        )
    with open_app(EngineRole.AUTO) as sw:
        started = sw.runs.resync(sw.report.filter(search))
        for run in started:
            console.print(
                f"run {run.id} resyncs {run.infos.get('resync_items', 0)} items of {run.sync_name}",
                highlight=False,
            )
        if not wait and sw.role is EngineRole.SUBMIT:
            return
        finished = [follow(sw, run) for run in started]
    for run in finished:
        console.print(render.summary(run))
    if any(r.status is RunStatus.FAILED for r in finished):
        raise typer.Exit(1)


def purge() -> None:
    """Apply the retention now: delete old entries and payloads, hide and purge old runs.
    The engine also does this on its schedule."""
    with open_app() as sw:
        purged = sw.purge()
    console.print(
        f"entries deleted {purged.entries}, payloads cleared {purged.payloads},"
        f" runs hidden {purged.runs_hidden}, runs purged {purged.runs_purged}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command()(report)
    app.command()(resync)
    app.command()(purge)
