"""The whole HTTP application: the API, and the web UI's pages and static files beside it."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from syncwright.api.app import create_api
from syncwright.bootstrap.app import App
from syncwright.web import alerts, auth, report, runs, syncs

STATIC = Path(__file__).parent / "static"


def create_app(sw: App) -> FastAPI:
    """The API (``/api/v1``, ``/docs``) and the pages (``/``), over one process's services."""
    app = create_api(sw)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (auth, syncs, runs, report, alerts):
        app.include_router(module.router)
    return app
