"""Errors as RFC 9457 problem details (``application/problem+json``), for every route."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

from syncwright.domain.errors import (
    ConfigError,
    Conflict,
    DestinationError,
    Forbidden,
    IllegalTransition,
    NotFound,
    SourceError,
    SyncwrightError,
    Throttled,
    Unauthenticated,
)

MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger("syncwright.api")


class FieldProblem(BaseModel):
    """One bad field of a request."""

    field: str
    detail: str


class Problem(BaseModel):
    """An RFC 9457 problem: ``detail`` says what was wrong, ``errors`` lists each bad field."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


_TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal error",
    502: "Upstream failure",
}

#: The problems every authenticated route can answer, for the OpenAPI description.
RESPONSES: dict[int | str, dict[str, Any]] = {
    **{
        code: {"model": Problem, "description": _TITLES[code]} for code in (401, 403, 404, 422, 429)
    },
    "default": {"model": Problem, "description": "Another problem (409, 502, 500...)"},
}


def describe_media_types(spec: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI description with problems under their own media type: FastAPI lists
    every response model as ``application/json``."""
    for methods in spec.get("paths", {}).values():
        for operation in methods.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                found = content.get("application/json", {}).get("schema", {})
                if (status == "default" or status[0] in "45") and found.get("$ref", "").endswith(
                    "/Problem"
                ):
                    content[MEDIA_TYPE] = content.pop("application/json")
    return spec


def problem(
    status: int,
    detail: str,
    *,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        title=_TITLES.get(status, "Error"), status=status, detail=detail, errors=errors
    ).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def status_of(exc: SyncwrightError) -> int:
    for kind, status in (
        (Unauthenticated, 401),
        (Throttled, 429),
        (Forbidden, 403),
        (NotFound, 404),
        (IllegalTransition, 409),
        (Conflict, 409),
        (ConfigError, 422),
        (SourceError, 502),
        (DestinationError, 502),
    ):
        if isinstance(exc, kind):
            return status
    return 400


def field_name(loc: tuple[Any, ...]) -> str:
    """``("body", "labels", 0)`` -> ``labels[0]``; ``("query", "limit")`` -> ``limit``."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or ".".join(map(str, loc))


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SyncwrightError)
    status = status_of(exc)
    if isinstance(exc, ConfigError) and exc.field:
        return problem(status, str(exc), errors=[FieldProblem(field=exc.field, detail=exc.message)])
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, Throttled):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem(status, str(exc), headers=headers)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldProblem(field=field_name(tuple(e.get("loc", ()))), detail=str(e.get("msg", "")))
        for e in exc.errors()
    ]
    listed = "; ".join(f"{e.field}: {e.detail}" for e in errors)
    return problem(422, f"the request is not valid: {listed}", errors=errors)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # A path served by several routes (GET here, POST there): list them all.
        allowed: set[str] = set()
        for route in request.app.routes:
            if isinstance(route, APIRoute) and route.matches(request.scope)[0] is not Match.NONE:
                allowed |= route.methods
        headers["Allow"] = ", ".join(sorted(allowed))
    return problem(exc.status_code, str(exc.detail), headers=headers or None)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The route's template, not the path: a path may carry a secret (the webhook trigger's).
    route = getattr(request.scope.get("route"), "path", "(no route)")
    logger.exception("unexpected error on %s %s", request.method, route)
    return problem(500, "an unexpected error happened; the server's log has the details")


def install(api: FastAPI) -> None:
    api.add_exception_handler(SyncwrightError, _on_domain_error)
    api.add_exception_handler(RequestValidationError, _on_validation_error)
    api.add_exception_handler(HTTPException, _on_http_error)
    api.add_exception_handler(Exception, _on_unexpected)
