"""Sending alert notices: a webhook signed with HMAC-SHA256, a Slack-compatible incoming
webhook, or e-mail through the installation's SMTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx

from syncwright.connectors.http.common import reason
from syncwright.domain.alerts import ChannelType, Notice

SIGNATURE_HEADER = "X-Syncwright-Signature"
TIMESTAMP_HEADER = "X-Syncwright-Timestamp"
DELIVERY_HEADER = "X-Syncwright-Delivery"


class NoticeFailed(Exception):
    """The channel did not take the notice; the message says why."""


@dataclass(frozen=True, kw_only=True)
class Smtp:
    """The SMTP server e-mail channels send through."""

    host: str
    port: int = 25
    sender: str = "syncwright@localhost"
    user: str | None = None
    password: str | None = None
    #: ``none``, ``starttls`` or ``ssl``.
    tls: str = "none"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 of ``<timestamp>.<body>`` keyed with the secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


class Notifier:
    def __init__(self, smtp: Smtp | None = None, *, timeout: float = 10.0) -> None:
        self.smtp = smtp
        self.timeout = timeout

    def send(
        self, kind: ChannelType, config: dict[str, Any], notice: Notice, delivery_id: str
    ) -> None:
        """Hand the notice to the channel, or raise ``NoticeFailed`` with the reason."""
        try:
            match kind:
                case ChannelType.WEBHOOK:
                    self._webhook(config, notice, delivery_id)
                case ChannelType.SLACK:
                    self._post(str(config["url"]), json.dumps({"text": notice.text}).encode(), {})
                case ChannelType.EMAIL:
                    self._email(config, notice)
        except NoticeFailed:
            raise
        except httpx.HTTPError as exc:
            raise NoticeFailed(f"{type(exc).__name__}: {exc}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise NoticeFailed(f"{type(exc).__name__}: {exc}") from None

    def _webhook(self, config: dict[str, Any], notice: Notice, delivery_id: str) -> None:
        body = json.dumps(notice.payload(), separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {TIMESTAMP_HEADER: timestamp, DELIVERY_HEADER: delivery_id}
        secret = config.get("secret")
        if secret:
            headers[SIGNATURE_HEADER] = signature(str(secret), timestamp, body)
        self._post(str(config["url"]), body, headers)

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        answer = httpx.post(
            url,
            content=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=self.timeout,
        )
        if not answer.is_success:
            raise NoticeFailed(reason(answer))

    def _email(self, config: dict[str, Any], notice: Notice) -> None:
        if self.smtp is None:
            raise NoticeFailed("no SMTP server is configured (SYNCWRIGHT_SMTP_HOST)")
        smtp = self.smtp
        message = EmailMessage()
        message["Subject"] = notice.title
        message["From"] = smtp.sender
        message["To"] = ", ".join(config["to"])
        message.set_content(notice.text)
        server_type = smtplib.SMTP_SSL if smtp.tls == "ssl" else smtplib.SMTP
        with server_type(smtp.host, smtp.port, timeout=self.timeout) as server:
            if smtp.tls == "starttls":
                server.starttls(context=ssl.create_default_context())
            if smtp.user:
                server.login(smtp.user, smtp.password or "")
            refused = server.send_message(message)
        if refused:
            raise NoticeFailed(f"the SMTP server refused {', '.join(sorted(refused))}")
