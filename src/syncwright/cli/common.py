"""What every command shares: the consoles, opening the app, following a run."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from syncwright.bootstrap.app import App, EngineRole
from syncwright.bootstrap.settings import Settings
from syncwright.domain.run import Run

console = Console()
errors = Console(stderr=True)


def open_app(role: EngineRole = EngineRole.NONE) -> App:
    return App(Settings.from_env(), role=role)


def follow(sw: App, started: Run) -> Run:
    """Wait for a run to end, with a progress bar."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"{started.sync_name}: queued", total=None)

        def update(current: Run) -> None:
            info = current.infos.get("progress") or {}
            total = info.get("total")
            progress.update(
                task,
                description=f"{current.sync_name}: {current.status.value}",
                total=total or None,
                completed=info.get("done", 0),
            )

        return sw.runs.wait(started.id, on_update=update)
