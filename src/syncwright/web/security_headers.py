"""Browser hardening: every response (pages, API, static files) says what a browser may do with
it. Scripts come only from this site's files (no inline script, no ``eval``), nothing may
frame a page, content types are not sniffed, and other sites are sent no referrer."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: What the pages load: their own scripts, styles, images and fonts, and ``fetch`` back to
#: this site (the live regions); inline images as ``data:`` URLs (Swagger UI's icons).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    # frame-ancestors for browsers that predate it.
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # The site's own pages still get the referrer (a form's page after a sign-in).
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeaders:
    """A pure ASGI middleware adding ``HEADERS`` to every response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in HEADERS if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
