"""``/healthz`` (the process answers), ``/readyz`` (the store and the engine answer) and
``/metrics`` (Prometheus)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from syncwright.api.deps import the_app
from syncwright.bootstrap.app import App

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up. Needs no token."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(sw: Annotated[App, Depends(the_app)]) -> JSONResponse:
    """The store answers a query and, in a process that runs work, the engine is launched.
    503 with the failing check otherwise. Needs no token."""
    checks = sw.readiness()
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, 401: {"description": "no token"}},
)
def metrics(
    sw: Annotated[App, Depends(the_app)],
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """Prometheus metrics of the whole store: runs by status, run duration, items by outcome,
    retries, scheduling lag, live runs and queue depth, engine heartbeats. Needs no token
    unless `SYNCWRIGHT_METRICS_TOKEN` is set; then `Authorization: Bearer <it>`."""
    expected = sw.settings.metrics_token
    if expected and not hmac.compare_digest(
        (authorization or "").encode(), f"Bearer {expected}".encode()
    ):
        return JSONResponse(
            {"title": "Unauthorized", "status": 401, "detail": "give the metrics token"},
            status_code=401,
            media_type="application/problem+json",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Response(sw.metrics(), media_type=CONTENT_TYPE_LATEST)
