"""The FastAPI application: every router, problem+json errors, OpenAPI at /openapi.json."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from syncwright import __version__
from syncwright.api import (
    alerts,
    artifacts,
    config,
    connections,
    health,
    hooks,
    me,
    problems,
    report,
    runs,
    strict,
    syncs,
    workspaces,
)
from syncwright.bootstrap.app import App

DESCRIPTION = """\
Everything a person can do in syncwright, for programs. Every route under `/api/v1` needs an
API token (`Authorization: Bearer swt_...`), except the webhook trigger, whose secret is its
credential. A workspace the token's user is not a member of answers 404, exactly as one that
does not exist. Errors are RFC 9457 problem details (`application/problem+json`).
"""


def create_api(sw: App) -> FastAPI:
    """The API over one process's services (``sw``, built by bootstrap)."""
    api = FastAPI(
        title="syncwright",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(strict.known_query_only)],
    )
    api.state.sw = sw
    problems.install(api)
    for module in (
        health,
        me,
        workspaces,
        connections,
        syncs,
        runs,
        report,
        artifacts,
        config,
        alerts,
        hooks,
    ):
        api.include_router(module.router)
    api.include_router(runs.schedule_router)
    plain_openapi = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = problems.describe_media_types(plain_openapi())
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    # Interactive docs served from the package's own copy of Swagger UI: no CDN needed.
    api.mount("/docs/assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="syncwright API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    return api
