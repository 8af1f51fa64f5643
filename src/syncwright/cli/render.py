"""How runs and entries look in a terminal."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from syncwright.api.schemas import RunOut
from syncwright.domain.alerts import Incident
from syncwright.domain.entry import Entry
from syncwright.domain.report import ErrorGroup
from syncwright.domain.run import Run

STATUS_STYLE = {
    "succeeded": "green",
    "ok": "green",
    "failed": "red",
    "aborted": "dim",
    "not_sent": "dim",
    "incomplete": "yellow",
    "pending": "yellow",
    "sent": "cyan",
    "scheduled": "blue",
    "skipped": "dim",
}


def styled(value: str) -> str:
    style = STATUS_STYLE.get(value)
    return f"[{style}]{value}[/{style}]" if style else value


def run_dict(run: Run) -> dict[str, Any]:
    """A run as JSON: the API's shape."""
    return RunOut.of(run).model_dump(mode="json")


def alert_dict(found: Incident) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": found.id,
        "state": "open" if found.is_open else "closed",
        "rule": found.rule_name,
        "rule_id": found.rule_id,
        "condition": found.condition.value,
        "sync": found.sync_name,
        "sync_id": found.sync_id,
        "run_id": found.run_id,
        "summary": found.summary,
        "opened_at": when(found.opened_at),
        "closed_at": when(found.closed_at),
        "resolution": found.resolution,
        "notices": [
            {
                "channel": d.channel_name,
                "event": d.event.value,
                "status": d.status.value,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "delivered_at": when(d.delivered_at),
            }
            for d in found.deliveries
        ],
    }


def entry_dict(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "run_id": entry.run_id,
        "sync_id": entry.sync_id,
        "sync": entry.sync_name,
        "reference": entry.reference,
        "system": entry.system,
        "source_id": entry.source_id,
        "endpoint_id": entry.endpoint_id,
        "operation": entry.operation.value,
        "status": entry.status.value,
        "attempts": entry.attempts,
        "error": entry.error,
        "error_group": entry.error_group,
        "retry_of": entry.retry_of,
        "latest_status": entry.latest_status.value if entry.latest_status else None,
        "latest_at": entry.latest_at.isoformat() if entry.latest_at else None,
        "created_at": entry.created_at.isoformat(),
        "updated_at": entry.updated_at.isoformat(),
    }


def group_dict(group: ErrorGroup) -> dict[str, Any]:
    return {
        "group": group.group,
        "count": group.count,
        "sample": entry_dict(group.sample),
    }


def groups_table(groups: list[ErrorGroup]) -> Table:
    table = Table(title="Failures by reason")
    table.add_column("count", justify="right")
    table.add_column("reason (--error-group)", overflow="fold")
    table.add_column("sample", overflow="fold")
    for g in groups:
        table.add_row(
            str(g.count), g.group, f"{g.sample.reference} (entry {g.sample.id}): {g.sample.error}"
        )
    return table


def print_json(console: Console, data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


#: Below this many columns, ``runs_table`` shows the compact form.
WIDE = 150


def runs_table(runs: list[Run], width: int = 200) -> Table:
    """Runs, newest first. A terminal narrower than ``WIDE`` gets the compact form: id, sync,
    status, when, duration, changes as ``+added ~changed -removed`` and ``ok / failed``,
    readable at 80 columns (type, trigger and mode are in ``--json``)."""
    if width < WIDE:
        return _compact_runs_table(runs)
    table = Table(title="Runs")
    for col in (
        "id",
        "sync",
        "type",
        "trigger",
        "mode",
        "status",
        "duration",
        "read",
        "added",
        "changed",
        "removed",
        "ok",
        "failed",
        "created",
    ):
        table.add_column(col, no_wrap=col in ("id", "created"))
    for run in runs:
        c = run.counters
        duration = run.duration_seconds
        table.add_row(
            run.id[:8],
            run.sync_name or "",
            run.type,
            run.trigger.value,
            run.mode.value,
            styled(run.status.value),
            "" if duration is None else f"{duration:.1f}s",
            str(c.read),
            str(c.added),
            str(c.changed),
            str(c.removed),
            str(c.ok),
            str(c.failed),
            run.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
        )
    return table


def _compact_runs_table(runs: list[Run]) -> Table:
    table = Table(title="Runs", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("id", no_wrap=True)
    table.add_column("sync", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("when", no_wrap=True)
    table.add_column("took", no_wrap=True, justify="right")
    table.add_column("+ ~ -", no_wrap=True, justify="right")
    table.add_column("ok/fail", no_wrap=True, justify="right")
    for run in runs:
        c = run.counters
        duration = run.duration_seconds
        when = run.started_at or run.scheduled_for or run.created_at
        table.add_row(
            run.id[:8],
            run.sync_name or "",
            styled(run.status.value),
            when.astimezone().strftime("%m-%d %H:%M"),
            "" if duration is None else f"{duration:.1f}s",
            f"+{c.added} ~{c.changed} -{c.removed}",
            f"{c.ok}/{c.failed}",
        )
    return table


def entries_table(
    entries: list[Entry],
    *,
    width: int = 200,
    extra: bool = False,
    latest: bool = False,
    title: str = "Sync report",
) -> Table:
    """The report; on narrow terminals the system, run and time columns give way to the error."""
    wide = width >= 120
    table = Table(title=title)
    columns = ["id", "reference", "system", "op", "status", "tries", "run", "updated"]
    if not wide:
        columns = ["id", "reference", "op", "status", "tries"]
    if extra:
        columns += ["source id", "endpoint id"]
    if latest:
        columns += ["latest"]
    for col in columns:
        table.add_column(col, no_wrap=True)
    table.add_column("error", overflow="fold")
    for e in entries:
        values = {
            "id": str(e.id) + (f" ↻{e.retry_of}" if e.retry_of else ""),
            "reference": e.reference,
            "system": e.system,
            "op": e.operation.value,
            "status": styled(e.status.value),
            "tries": str(e.attempts),
            "run": e.run_id[:8],
            "updated": e.updated_at.astimezone().strftime("%m-%d %H:%M"),
            "source id": e.source_id,
            "endpoint id": e.endpoint_id or "",
            "latest": styled(e.latest_status.value) if e.latest_status else "",
        }
        table.add_row(*(values[c] for c in columns), e.error or "")
    return table


def summary(run: Run) -> Table:
    c = run.counters
    table = Table(title=f"Run {run.id} of {run.sync_name}", show_header=False)
    table.add_column("what")
    table.add_column("value")
    duration = run.duration_seconds
    rows = [
        ("status", styled(run.status.value)),
        ("mode / trigger", f"{run.mode.value} / {run.trigger.value}"),
        ("duration", "" if duration is None else f"{duration:.2f}s"),
        ("read", f"{c.read} = unchanged {c.unchanged} + added {c.added} + changed {c.changed}"),
        ("removed", str(c.removed)),
        (
            "outcomes",
            f"ok {c.ok}, sent {c.sent}, pending {c.pending}, failed {c.failed}, skipped {c.skipped}"
            + (f", not sent {c.not_sent}" if c.not_sent else ""),
        ),
    ]
    if run.error:
        rows.append(("error", f"[red]{run.error}[/red]"))
    for what, value in rows:
        table.add_row(what, value)
    return table
