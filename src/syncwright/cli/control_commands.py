"""``syncwright cancel``, ``approve``, ``enable``, ``disable``, ``schedule``, ``webhook`` and
``dry-run``: controlling runs."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from syncwright.bootstrap.app import EngineRole
from syncwright.cli import render
from syncwright.cli.common import console, errors, open_app


def cancel(run_id: str = typer.Argument(..., help="The run's id.")) -> None:
    """Abort a planned, queued or running run. The batch in flight is recorded when it
    answers; items never sent are `not_sent` in the report."""
    with open_app(EngineRole.SUBMIT) as sw:
        run = sw.runs.cancel(run_id)
    console.print(f"run {run.id} of {run.sync_name} aborted", highlight=False)


def approve(run_id: str = typer.Argument(..., help="The run its sync's guard stopped.")) -> None:
    """Approve a run its sync's guard stopped and go on: a new run, which the guard does not
    stop, delivers the change set as it is now."""
    with open_app(EngineRole.AUTO) as sw:
        run = sw.runs.approve(run_id)
        if sw.role is EngineRole.SUBMIT:
            console.print(f"run {run.id} queued (approving {run_id})", highlight=False)
            return
        finished = sw.runs.wait(run.id)
    console.print(render.summary(finished))


def enable(name: str = typer.Argument(..., help="The sync's name.")) -> None:
    """Turn a sync on: its schedule runs again and it can be run by hand."""
    with open_app() as sw:
        sync = sw.runs.set_enabled(name, True)
    console.print(f"sync {sync.name} enabled ({sync.triggers.describe()})", highlight=False)


def disable(name: str = typer.Argument(..., help="The sync's name.")) -> None:
    """Turn a sync off: no scheduled runs, and manual runs are refused."""
    with open_app() as sw:
        sync = sw.runs.set_enabled(name, False)
    console.print(f"sync {sync.name} disabled", highlight=False)


def schedule() -> None:
    """Upcoming runs, soonest first, with their times in this machine's time zone."""
    with open_app() as sw:
        upcoming = sw.runs.upcoming()
        triggers = {s.id: s.triggers.describe() for s in sw.syncs.list()}
    table = Table(title="Upcoming runs")
    for col in ("when", "sync", "trigger", "because", "run"):
        table.add_column(col, no_wrap=col != "because")
    for run in upcoming:
        when = run.scheduled_for.astimezone() if run.scheduled_for else None
        table.add_row(
            when.strftime("%Y-%m-%d %H:%M:%S %Z") if when else "",
            run.sync_name or "",
            render.styled(run.trigger.value),
            triggers.get(run.sync_id, ""),
            run.id[:8],
        )
    console.print(table)


def webhook(
    name: str = typer.Argument(..., help="The sync's name (with webhook: true)."),
    rotate: bool = typer.Option(False, "--rotate", help="Make a new secret; the old one stops."),
) -> None:
    """Show a sync's webhook trigger: a secret URL that starts a run when called. The secret
    is printed once, when it is made."""
    with open_app() as sw:
        token, created = sw.runs.webhook(name, rotate=rotate)
    if token is None:
        console.print(
            f"sync {name} has a webhook secret since {created:%Y-%m-%d %H:%M} UTC; it is shown"
            " only once. --rotate makes a new one (the old one stops working).",
            highlight=False,
        )
        return
    console.print(f"POST /api/v1/hooks/{token}", highlight=False, soft_wrap=True)
    errors.print("keep it secret: anyone with this URL can start the sync", highlight=False)


def register(app: typer.Typer) -> None:
    for command in (cancel, approve, enable, disable, schedule, webhook):
        app.command()(command)
    app.command("dry-run")(dry_run)
    app.command()(alerts)


def alerts(
    open_only: bool = typer.Option(False, "--open", help="Only the alerts open now."),
    sync: str | None = typer.Option(None, "--sync", help="Only this sync's."),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The alerts the rules raised, newest first, with how their notices went. Exit code 1
    when one is open (for scripts and monitoring checks)."""
    with open_app() as sw:
        found = sw.in_workspace(sw.workspace_id).alerts.incidents(
            state="open" if open_only else None, sync_name=sync, limit=limit
        )
    if as_json:
        render.print_json(console, [render.alert_dict(i) for i in found])
    else:
        table = Table("state", "rule", "sync", "what", "opened", "closed", "notices")
        for i in found:
            delivered = sum(d.status.value == "delivered" for d in i.deliveries)
            undelivered = sum(d.status.value == "undelivered" for d in i.deliveries)
            table.add_row(
                "firing" if i.is_open else "resolved",
                i.rule_name,
                i.sync_name,
                i.summary,
                f"{i.opened_at:%Y-%m-%d %H:%M:%S}",
                f"{i.closed_at:%Y-%m-%d %H:%M:%S}" if i.closed_at else "",
                f"{delivered}/{len(i.deliveries)} delivered"
                + (f", {undelivered} undelivered" if undelivered else ""),
            )
        console.print(table if found else "no alert")
    if any(i.is_open for i in found):
        raise typer.Exit(1)


def dry_run(
    name: str = typer.Argument(..., help="The sync's name."),
    full: bool = typer.Option(False, "--full", help="Compare every row, as a full resync."),
    sample: int = typer.Option(5, "--sample", min=0, max=50, help="Items shown per operation."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What a run would deliver now, without writing anything: counts, what the guard would
    say, and sample items. Exit code 1 when the guard would stop the run."""
    with open_app() as sw:
        found = sw.runs.dry_run(name, full=full, sample=sample)
    if as_json:
        render.print_json(
            console,
            {
                "counters": found.counters.as_dict(),
                "deliverable": found.deliverable,
                "guard": found.guard,
                "samples": found.samples,
            },
        )
    else:
        c = found.counters
        console.print(
            f"dry run of {name}: read {c.read} = unchanged {c.unchanged} + added {c.added}"
            f" + changed {c.changed}; removed {c.removed}; {found.deliverable} to deliver"
            f" ({c.skipped} the write mode skips); nothing was written",
            highlight=False,
            soft_wrap=True,
        )
        table = Table("operation", "reference", "key", "fields")
        for item in found.samples:
            table.add_row(
                item["operation"],
                item["reference"] or "",
                json.dumps(item["key"]),
                json.dumps(item["fields"]) if item["fields"] is not None else "",
            )
        if found.samples:
            console.print(table)
        if found.guard:
            errors.print(f"the guard would stop this run: {found.guard}", highlight=False)
    if found.guard:
        raise typer.Exit(1)
