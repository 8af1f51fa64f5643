"""The syncs overview and a sync's page, with its buttons: run, full resync, turn on or off,
file in a folder, label, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Header
from fastapi.responses import Response

from syncwright.api.artifacts import serve_file
from syncwright.domain.run import RunFilter
from syncwright.domain.statuses import SyncHealth
from syncwright.web.runs import progress
from syncwright.web.session import Admin, Operator, PageRoute, Reader, done
from syncwright.web.session import Form as CheckedForm

router = APIRouter(prefix="/w/{workspace_id}/syncs", route_class=PageRoute, include_in_schema=False)

HEALTH_FILTERS = [h.value for h in SyncHealth] + ["running"]


@router.get("")
def overview(
    viewer: Reader,
    status: str = "",
    folder: str = "",
    label: str = "",
    search: str = "",
) -> Response:
    everything = viewer.services.syncs.overview()
    shown = [
        s
        for s in everything
        if (
            not status
            or s.health == status
            or (status == "running" and s.last_run is not None and s.last_run.status.is_live)
        )
        and (not folder or (s.sync.folder or "") == folder)
        and (not label or label in s.sync.labels)
        and (not search or search.lower() in s.sync.name.lower())
    ]
    return viewer.render(
        "syncs.html",
        syncs=shown,
        total=len(everything),
        folders=sorted({s.sync.folder for s in everything if s.sync.folder}),
        labels=sorted({label for s in everything for label in s.sync.labels}),
        healths=HEALTH_FILTERS,
        params={"status": status, "folder": folder, "label": label, "search": search},
    )


@router.get("/{sync_id}")
def sync_page(sync_id: str, viewer: Reader) -> Response:
    summary = viewer.services.syncs.summary(sync_id)
    recent = viewer.services.runs.list(RunFilter(sync_id=sync_id), limit=30)
    last = summary.last_run
    return viewer.render(
        "sync.html",
        s=summary,
        live=progress(last) if last is not None else None,
        recent=[r for r in recent if r.status.value != "scheduled"],
        artifact=viewer.services.syncs.latest_artifact_or_none(sync_id),
    )


@router.post("/{sync_id}/run", dependencies=[CheckedForm])
def run(sync_id: str, viewer: Operator, full: Annotated[str, Form()] = "") -> Response:
    sync = viewer.services.syncs.get(sync_id)
    started = viewer.services.runs.trigger(sync.name, full=bool(full), user_id=viewer.user.id)
    what = "A full resync" if full else "A run"
    return done(f"{viewer.base}/runs/{started.id}", f"{what} of {sync.name} started.")


@router.post("/{sync_id}/enabled", dependencies=[CheckedForm])
def toggle(sync_id: str, viewer: Operator, enabled: Annotated[str, Form()]) -> Response:
    sync = viewer.services.syncs.get(sync_id)
    on = enabled == "on"
    viewer.services.runs.set_enabled(sync.name, on, user_id=viewer.user.id)
    return done(f"{viewer.base}/syncs/{sync_id}", f"{sync.name} is {'on' if on else 'off'}.")


@router.post("/{sync_id}/organise", dependencies=[CheckedForm])
def organise(
    sync_id: str,
    viewer: Admin,
    folder: Annotated[str, Form()] = "",
    labels: Annotated[str, Form()] = "",
) -> Response:
    names = [part.strip() for part in labels.split(",") if part.strip()]
    viewer.services.objects.organise(
        sync_id,
        folder=folder.strip() or None,
        clear_folder=not folder.strip(),
        labels=names,
        user_id=viewer.user.id,
    )
    return done(f"{viewer.base}/syncs/{sync_id}", "Folder and labels saved.")


@router.get("/{sync_id}/delete")
def confirm_delete(sync_id: str, viewer: Admin) -> Response:
    return viewer.render("delete.html", sync=viewer.services.syncs.get(sync_id))


@router.post("/{sync_id}/delete", dependencies=[CheckedForm])
def delete(sync_id: str, viewer: Admin) -> Response:
    sync = viewer.services.syncs.get(sync_id)
    viewer.services.objects.delete("sync", sync_id, user_id=viewer.user.id)
    return done(
        f"{viewer.base}/syncs", f"{sync.name} is deleted; its runs and report stay readable."
    )


@router.get("/{sync_id}/latest")
def latest_file(
    sync_id: str, viewer: Reader, if_none_match: Annotated[str | None, Header()] = None
) -> Response:
    """The newest file the sync published (a feed), as the API serves it."""
    return serve_file(viewer.services.syncs.latest_artifact(sync_id), if_none_match)
