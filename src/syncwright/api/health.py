"""``/healthz`` (the process answers) and ``/readyz`` (the store and the engine answer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

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
