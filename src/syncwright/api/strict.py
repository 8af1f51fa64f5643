"""Unknown query parameters are refused, and so are a single-valued one given twice and an
empty one: a mistyped filter (``?stauts=failed``) would otherwise be ignored and answer
everything, a repeated one silently keep its last value, an empty one mean nothing clear.
What a route takes is what OpenAPI says."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError


def _many(schema: dict[str, Any]) -> bool:
    """Whether a parameter's schema takes a list (``type: array``, maybe in an ``anyOf``)."""
    return schema.get("type") == "array" or any(_many(s) for s in schema.get("anyOf", []))


def _query_names(spec: dict[str, Any]) -> dict[tuple[str, str], tuple[dict[str, bool], bool]]:
    """Per (method, path): each query parameter and whether it may repeat, and whether the
    route needs a token."""
    names = {}
    for path, methods in spec.get("paths", {}).items():
        for method, operation in methods.items():
            names[(method.upper(), path)] = (
                {
                    p["name"]: _many(p.get("schema", {}))
                    for p in operation.get("parameters", [])
                    if p.get("in") == "query"
                },
                bool(operation.get("security")),
            )
    return names


def _declared(request: Request) -> tuple[dict[str, bool], bool] | None:
    state = request.app.state
    if getattr(state, "query_names", None) is None:
        state.query_names = _query_names(request.app.openapi())
    route = request.scope.get("route")
    method = "GET" if request.method == "HEAD" else request.method
    found: tuple[dict[str, bool], bool] | None = state.query_names.get(
        (method, getattr(route, "path", ""))
    )
    return found


def known_query_only(request: Request) -> None:
    """A dependency of every route: every query parameter must be one the route declares.
    Routes that need a token check once the caller is known (``check_query``), so that a
    request without a token is told so first."""
    declared = _declared(request)
    if declared is not None and not declared[1]:
        check_query(request)


def check_query(request: Request) -> None:
    declared = _declared(request)
    if declared is None:
        return
    allowed = declared[0]
    problems = []
    for name in dict.fromkeys(request.query_params):
        if name not in allowed:
            takes = f" (it takes {', '.join(sorted(allowed))})" if allowed else ""
            problems.append((name, "not a parameter of this route" + takes, "extra_forbidden"))
        elif not allowed[name] and len(request.query_params.getlist(name)) > 1:
            problems.append((name, "given more than once; it takes one value", "too_long"))
        elif "" in request.query_params.getlist(name):
            # An empty filter is a mistake too (and an empty list and an empty text would
            # read the same): leave the parameter out instead.
            problems.append((name, "empty; give a value or leave the parameter out", "missing"))
    if problems:
        raise RequestValidationError(
            [{"loc": ("query", name), "msg": msg, "type": kind} for name, msg, kind in problems]
        )
