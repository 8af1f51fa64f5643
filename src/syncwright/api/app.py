"""The FastAPI application: every router, problem+json errors, OpenAPI at /openapi.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

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

#: The interactive docs: Swagger UI's files, started by a script of ours (no inline script,
#: which the pages' Content-Security-Policy refuses).
DOCS_PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>syncwright API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" href="/docs/assets/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""
DOCS_SCRIPT = Path(__file__).parent / "static" / "docs.js"
#: Swagger UI 5 (it reads OpenAPI 3.1), as the ``fastapi-offline`` package ships it.
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"


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
    # Interactive docs from an installed package's copy of Swagger UI: no CDN needed.
    api.mount("/docs/assets", StaticFiles(directory=SWAGGER_UI), name="docs-assets")

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)

    @api.get("/docs/init.js", include_in_schema=False)
    def docs_script() -> FileResponse:
        return FileResponse(DOCS_SCRIPT, media_type="text/javascript")

    return api
