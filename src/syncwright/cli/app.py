"""``syncwright``: apply configuration, start and follow runs, read the report, serve."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import typer

from syncwright.bootstrap.app import App, EngineBusy, EngineRole
from syncwright.bootstrap.logs import configure_logging
from syncwright.bootstrap.settings import Settings
from syncwright.cli import account_commands, control_commands, render, report_commands
from syncwright.cli.common import console, errors, follow, open_app, run_chain
from syncwright.connectors.sql.urls import safe_url
from syncwright.domain.access import Role
from syncwright.domain.errors import NotFound, SyncwrightError
from syncwright.domain.run import RunFilter
from syncwright.domain.statuses import EntryStatus, RunStatus
from syncwright.services.config_file import load_config
from syncwright.services.demo import (
    DEMO_EMAIL,
    DEMO_FEED,
    DEMO_PASSWORD,
    DEMO_SYNC,
    build_demo,
    edit_demo,
)

app = typer.Typer(help="syncwright: keep data in step between systems.", no_args_is_help=True)
db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
artifacts_app = typer.Typer(
    help="Files that runs published (feeds, uploads).", no_args_is_help=True
)
app.add_typer(artifacts_app, name="artifacts")


def _open(role: EngineRole = EngineRole.NONE) -> App:
    return open_app(role)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the store to the newest schema."""
    settings = Settings.from_env()
    with App(settings):
        pass
    console.print(f"store at {safe_url(settings.database_url)} is up to date")


@app.command()
def apply(
    file: Path = typer.Option(..., "-f", "--file", help="The YAML configuration file."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and show changes, apply nothing."),
    skip_check: bool = typer.Option(
        False,
        "--skip-check",
        help="Do not connect to the sources and destinations first (one is in maintenance);"
        " models' queries are then not tried either.",
    ),
) -> None:
    """Create or update sources, models, destinations and syncs from a file (idempotent)."""
    doc = load_config(file)
    with _open() as sw:
        changes = sw.configs.apply(
            doc,
            base_dir=file.resolve().parent,
            dry_run=dry_run,
            check_connections=not skip_check,
        )
    for change in changes:
        colour = {"created": "green", "updated": "yellow"}.get(change.action, "dim")
        console.print(f"[{colour}]{change.action:9}[/{colour}] {change.kind} {change.name}")
    if dry_run:
        console.print("dry run: nothing was applied")


@app.command()
def check(
    names: list[str] = typer.Argument(None, help="Stored sources or destinations to test."),
    file: Path | None = typer.Option(None, "-f", "--file", help="Test every connection in a file."),
) -> None:
    """Test connections without running a sync. Exit code 1 when one fails."""
    if not names and file is None:
        raise typer.BadParameter("name a source or destination, or give -f FILE")
    with _open() as sw:
        results = []
        if file is not None:
            planned = sw.configs.check(load_config(file), file.resolve().parent)
            results.extend(sw.configs.test_planned(planned))
        for name in names or []:
            results.extend(sw.configs.test_stored(name))
    for result in results:
        mark = "[green]ok[/green]    " if result.problem is None else "[red]failed[/red]"
        detail = f": {result.problem}" if result.problem else ""
        console.print(f"{mark} {result.kind} {result.name}{detail}", highlight=False)
    if any(r.problem for r in results):
        raise typer.Exit(1)


@artifacts_app.command("latest")
def artifacts_latest(name: str = typer.Argument(..., help="The sync's name.")) -> None:
    """Print where the sync's newest complete file is (its constant latest location)."""
    with _open() as sw:
        found = sw.syncs.latest_artifact_or_none(sw.syncs.named(name).id)
    if found is None:
        raise NotFound(f"sync {name!r} has published no file yet")
    console.print(found.latest or found.location, highlight=False, soft_wrap=True)
    errors.print(
        f"run {found.run_id}: {found.rows} rows, {found.size} bytes, {found.checksum},"
        f" {found.content_type}",
        highlight=False,
    )


@app.command()
def run(
    name: str = typer.Argument(..., help="The sync's name."),
    full: bool = typer.Option(False, "--full", help="Resend everything and rebuild the snapshot."),
    wait: bool = typer.Option(
        False,
        "--wait",
        help="Follow the run with a progress bar; with no engine running, also run here the"
        " syncs that run after it.",
    ),
) -> None:
    """Start a run of a sync. Exit code 1 when a followed run fails.

    With no engine on this home, the run goes on in this process, which runs nothing else;
    syncs planned after it (``after:``) wait for an engine (syncwright serve or worker), or
    run here, one after the other, with --wait."""
    with _open(EngineRole.AUTO) as sw:
        started = sw.runs.trigger(name, full=full)
        if started.status is RunStatus.SKIPPED:
            console.print(f"run {started.id} skipped: {started.infos.get('reason')}")
            return
        if sw.role is EngineRole.SUBMIT and not wait:
            console.print(f"run {started.id} queued")
            return
        if not wait:
            console.print(f"no engine runs on {sw.settings.home}: running {started.id} here")
            finished = sw.runs.wait(started.id)
        else:
            finished = follow(sw, started)
        console.print(render.summary(finished))
        chained = run_chain(sw, finished, wait=wait)
    for run in chained:
        console.print(render.summary(run))
    if any(r.status is RunStatus.FAILED for r in (finished, *chained)):
        raise typer.Exit(1)


@app.command()
def runs(
    sync: str | None = typer.Option(None, "--sync", help="Only this sync's runs."),
    status: RunStatus | None = typer.Option(None, "--status"),
    limit: int = typer.Option(50, "--limit", min=1),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List runs, newest first."""
    with _open() as sw:
        found = sw.runs.list(RunFilter(status=status), sync_name=sync, limit=limit)
    if as_json:
        render.print_json(console, [render.run_dict(r) for r in found])
    else:
        console.print(render.runs_table(found, width=console.width))


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on."),
    port: int = typer.Option(8000, "--port", help="The port to listen on (0: any free one)."),
) -> None:
    """Run the engine and serve the web UI and the API (docs at /docs) until stopped (Ctrl-C
    or SIGTERM)."""
    _serve(host, port)


@app.command()
def worker() -> None:
    """Run the engine only (queued runs, schedules, chains; no HTTP) until Ctrl-C or SIGTERM,
    then stop taking work and let the runs in flight finish (SYNCWRIGHT_SHUTDOWN_GRACE)."""
    import signal
    import threading

    stop = threading.Event()
    try:
        with _open(EngineRole.EXECUTE) as sw:
            configure_logging(sw.settings.log_format, sw.settings.log_level)
            for name in (signal.SIGINT, signal.SIGTERM):
                signal.signal(name, lambda *_: stop.set())
            console.print(
                f"syncwright engine running on {safe_url(sw.settings.database_url)}"
                f" (worker, {sw.settings.worker_concurrency} runs at once); Ctrl-C stops it",
                highlight=False,
                soft_wrap=True,
            )
            stop.wait()
            console.print(
                f"stopping: no new work; runs in flight get {sw.settings.shutdown_grace:g} s",
                highlight=False,
            )
    except EngineBusy as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _serve(host: str, port: int, *, after_start: str = "") -> None:
    import signal
    import socket

    import uvicorn

    from syncwright.web.app import create_app

    try:
        with _open(EngineRole.EXECUTE) as sw:
            configure_logging(sw.settings.log_format, sw.settings.log_level)
            listener = socket.create_server((host, port), reuse_port=False)
            bound = listener.getsockname()[1]
            console.print(
                f"syncwright engine running on {safe_url(sw.settings.database_url)};"
                f" web UI at http://{host}:{bound}/, API at /api/v1 (docs: /docs);"
                " Ctrl-C stops it",
                highlight=False,
                soft_wrap=True,
            )
            if after_start:
                console.print(after_start, highlight=False, soft_wrap=True)
            server = uvicorn.Server(
                # The logging configured above, not uvicorn's own.
                uvicorn.Config(create_app(sw), log_config=None, access_log=False)
            )
            # The server stops on SIGINT or SIGTERM, then raises the signal again to the
            # handlers it found: make those no-ops, so the engine below shuts down cleanly.
            for stop in (signal.SIGINT, signal.SIGTERM):
                signal.signal(stop, lambda *_: None)
            server.run(sockets=[listener])
    except EngineBusy as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command()
def demo(
    folder: Path = typer.Option(Path("demo"), "--dir", help="Where to build the demo (rebuilt)."),
    rows: int = typer.Option(3000, "--rows", min=10),
    serve_ui: bool = typer.Option(
        True, "--serve/--no-serve", help="Serve the web UI on the demo at the end."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Where the UI listens."),
    port: int = typer.Option(8000, "--port", help="The UI's port (0: any free one)."),
) -> None:
    """Build a demo catalogue, sync it, edit it, sync again, publish a CSV feed, show the
    runs, then serve the web UI on the demo workspace (until Ctrl-C).

    The demo keeps its store in DIR/.syncwright unless SYNCWRIGHT_HOME is set.
    """
    if "SYNCWRIGHT_HOME" not in os.environ:
        shutil.rmtree(folder / ".syncwright", ignore_errors=True)
        os.environ["SYNCWRIGHT_HOME"] = str(folder / ".syncwright")
    config = build_demo(folder, rows=rows)
    console.print(f"[bold]1.[/bold] built {rows} products in {folder / 'shop.db'}; config {config}")
    doc = load_config(config)
    with _open(EngineRole.AUTO) as sw:
        for change in sw.configs.apply(doc, base_dir=config.resolve().parent):
            console.print(f"   {change.action} {change.kind} {change.name}")
        console.print("[bold]2.[/bold] first run: everything is new")
        first = follow(sw, sw.runs.trigger(DEMO_SYNC))
        console.print(render.summary(first))
        edit = edit_demo(folder)
        console.print(
            f"[bold]3.[/bold] edited the catalogue: {edit.changed} changed, {edit.added} added,"
            f" {edit.removed} removed; {edit.rejected_sku} lost its name (the warehouse refuses it)"
        )
        console.print("[bold]4.[/bold] second run: only the differences travel")
        second = follow(sw, sw.runs.trigger(DEMO_SYNC))
        console.print(render.summary(second))
        failed = sw.report.entries(run_id=second.id, status=EntryStatus.FAILED)
        console.print(render.entries_table(failed, width=console.width))
        feed = follow(sw, sw.runs.trigger(DEMO_FEED))
        published = sw.in_workspace(sw.workspace_id).syncs.latest_artifact(feed.sync_id)
        console.print(
            f"[bold]5.[/bold] published the catalogue as a CSV feed: {published.latest}"
            f" ({feed.counters.read} rows); it runs again every hour"
        )
        try:
            sw.accounts.user(DEMO_EMAIL)
        except NotFound:
            sw.accounts.create_user(DEMO_EMAIL, name="Demo", password=DEMO_PASSWORD)
        sw.accounts.grant(DEMO_EMAIL, sw.settings.workspace, Role.ADMIN)
    home = os.environ["SYNCWRIGHT_HOME"]
    console.print(
        f"Explore: SYNCWRIGHT_HOME={home} syncwright runs | report --status failed"
        f" | report --errors | resync --status failed | run {DEMO_SYNC} --wait"
    )
    if serve_ui:
        _serve(
            host,
            port,
            after_start=f"Sign in to the web UI as {DEMO_EMAIL} with the password {DEMO_PASSWORD}",
        )


report_commands.register(app)
control_commands.register(app)
account_commands.register(app)


def main() -> None:
    try:
        app()
    except SyncwrightError as exc:
        errors.print(f"[red]error:[/red] {exc}", soft_wrap=True, highlight=False)
        raise SystemExit(2) from None
