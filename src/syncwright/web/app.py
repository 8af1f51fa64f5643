"""The whole HTTP application: the API, and the web UI's pages and static files beside it."""

from __future__ import annotations

from pathlib import Path

from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from syncwright.api import config
from syncwright.api.app import create_api
from syncwright.api.body_limit import BodyLimit, Larger
from syncwright.bootstrap.app import App
from syncwright.web import alerts, auth, report, runs, syncs
from syncwright.web.security_headers import SecurityHeaders

STATIC = Path(__file__).parent / "static"


def create_app(sw: App) -> ASGIApp:
    """The API (``/api/v1``, ``/docs``) and the pages (``/``), over one process's services;
    every request body bounded before anything reads it, every response with the browser's
    security headers (the 413 and an unexpected error's 500 too)."""
    app = create_api(sw)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (auth, syncs, runs, report, alerts):
        app.include_router(module.router)
    return SecurityHeaders(
        BodyLimit(
            app,
            default=sw.settings.max_body,
            larger=[Larger("POST", config.DOCUMENT_PATH, sw.settings.max_config_body)],
        )
    )
