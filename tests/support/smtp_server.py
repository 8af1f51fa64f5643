"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it receives; given a
login, it takes mail only from a client that signs in with it."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class _Keep:
    def __init__(self, box: list[EmailMessage], *, signed_in: bool = False) -> None:
        self.box = box
        self.signed_in = signed_in

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.signed_in and not session.authenticated:
            return "530 5.7.0 Authentication required"
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.box.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, login: tuple[str, str] | None = None) -> None:
        """``login``: the user and password a client must sign in with (AUTH PLAIN or LOGIN,
        over the plain connection) before it may send."""
        self.messages: list[EmailMessage] = []
        #: How many sign-ins were refused.
        self.refused = 0
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        auth: dict[str, Any] = {}
        if login is not None:
            expected = (login[0].encode(), login[1].encode())

            def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
                ok = isinstance(data, LoginPassword) and (data.login, data.password) == expected
                self.refused += not ok
                return AuthResult(success=ok)

            # aiosmtpd warns against requiring AUTH without TLS: the handler refuses the mail
            # of a client that did not sign in instead.
            auth = {"authenticator": check, "auth_require_tls": False}
        self.controller = Controller(
            _Keep(self.messages, signed_in=login is not None),
            hostname="127.0.0.1",
            port=self.port,
            **auth,
        )
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()
