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


def planned_after(sw: App, finished: Run) -> list[Run]:
    """The runs planned because ``finished`` ended here (syncs with ``after:`` it), once its
    end has planned them."""
    if sw.engine is None:
        return []
    sw.engine.settle(finished.id)
    ids = sw.runs.get(finished.id).infos.get("planned_after") or []
    return [sw.runs.get(run_id) for run_id in ids]


def run_chain(sw: App, finished: Run, *, wait: bool) -> list[Run]:
    """After a run this one-off process ran: with ``wait``, run here the syncs planned after
    it (and after those, in turn), following each; without, say that they are left planned
    for an engine. Returns the runs that ran here, in order."""
    ran: list[Run] = []
    todo = [finished]
    while todo:
        for planned in planned_after(sw, todo.pop(0)):
            started = sw.engine.start_planned(planned) if wait and sw.engine else None
            if started is None:
                console.print(
                    f"run {planned.id} of {planned.sync_name} is planned after"
                    f" {finished.sync_name}; an engine (syncwright serve or worker) runs it",
                    highlight=False,
                )
                continue
            done = follow(sw, started)
            ran.append(done)
            todo.append(done)
    return ran
