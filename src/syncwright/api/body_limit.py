"""Bounded request bodies: a body larger than its route's limit is refused with 413 before
anything reads, parses or authenticates it, whatever its content type.

A pure ASGI middleware around the whole application. A declared ``Content-Length`` above the
limit is answered at once, without reading a byte of the body (the HTTP server discards what
the client still sends). A body without one (chunked) is counted as it streams: at the limit
the application's next read fails with a 413, which the API answers as a problem and a page
as an error page; nothing past the limit is read."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncwright.api import problems


@dataclass(frozen=True)
class Larger:
    """A route whose bodies may be larger (or smaller) than the default: ``method`` on paths
    matching ``path`` in full."""

    method: str
    path: re.Pattern[str]
    limit: int


class BodyTooLarge(HTTPException):
    """The request body is larger than the route's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit))


def too_large(limit: int) -> str:
    return f"the request body is larger than this route's limit of {limit} bytes"


class BodyLimit:
    def __init__(self, app: ASGIApp, *, default: int, larger: Sequence[Larger] = ()) -> None:
        self.app = app
        self.default = default
        self.larger = tuple(larger)

    def limit_of(self, method: str, path: str) -> int:
        for route in self.larger:
            if route.method == method and route.path.fullmatch(path):
                return route.limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_of(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await problems.problem(413, too_large(limit))(scope, receive, send)
            return
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            if received > limit:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except BodyTooLarge:
            # A part of the application that does not answer HTTP errors itself (a mount).
            if started:
                raise
            await problems.problem(413, too_large(limit))(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    """The declared body length; None when there is none (chunked, or no body). The HTTP
    server refuses a malformed one, and a body longer than it declares."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
