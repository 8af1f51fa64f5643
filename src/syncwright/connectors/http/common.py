"""What the HTTP source and destination share: auth, reading answers, waiting politely."""

from __future__ import annotations

import base64
import json
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from syncwright.domain.clock import utcnow


class HttpAuth(BaseModel):
    """``bearer`` (``Authorization: Bearer <token>``), ``basic`` (username and password) or
    ``header`` (the token in the header named ``header``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["bearer", "basic", "header"]
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    header: str = "X-API-Key"

    @model_validator(mode="after")
    def _complete(self) -> HttpAuth:
        if self.type in ("bearer", "header") and self.token is None:
            raise ValueError(f"{self.type} auth needs a token")
        if self.type == "basic" and (self.username is None or self.password is None):
            raise ValueError("basic auth needs a username and a password")
        return self

    def headers(self) -> dict[str, str]:
        if self.type == "basic":
            pair = f"{self.username}:{self.password.get_secret_value()}"  # type: ignore[union-attr]
            return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        token = self.token.get_secret_value()  # type: ignore[union-attr]
        if self.type == "bearer":
            return {"Authorization": f"Bearer {token}"}
        return {self.header: token}


def retry_after(response: httpx.Response) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (a number or an HTTP date), or None."""
    return wait_asked(response.headers.get("Retry-After"))


def wait_asked(value: Any) -> float | None:
    """Seconds a ``Retry-After`` value asks to wait: a number of seconds (JSON number or
    text) or an HTTP date; None when there is none or it cannot be read."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return max(float(value), 0.0)
    if not isinstance(value, str):
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max((parsedate_to_datetime(value) - utcnow()).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


def status_code(value: Any) -> int | None:
    """An HTTP status given in a JSON answer (``503`` or ``"503"``); None for anything else
    (``"ok"``, ``1``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 100 <= value <= 599:
        return value
    return None


def status_reason(status: int, message: Any = None, limit: int = 300) -> str:
    """``HTTP 503 Service Unavailable: <message>`` for a status read from an answer's body."""
    try:
        head = f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        head = f"HTTP {status}"
    if message in (None, ""):
        return head
    text = message if isinstance(message, str) else json.dumps(message, default=str)
    return f"{head}: {' '.join(text.split())[:limit]}"


def is_retryable(status: int) -> bool:
    """Worth trying again: rate limited, timed out upstream, or a server-side failure."""
    return status in (408, 425, 429) or status >= 500


def reason(response: httpx.Response, limit: int = 300) -> str:
    """``HTTP 400 Bad Request: <the API's message>``, from a JSON ``error``/``message`` field
    when there is one, else the start of the body."""
    head = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    body = response.text.strip()
    if not body:
        return head
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for name in ("error", "message", "detail", "reason"):
            if isinstance(data.get(name), str):
                return f"{head}: {data[name][:limit]}"
    return f"{head}: {' '.join(body.split())[:limit]}"


def dig(data: Any, path: str | None) -> Any:
    """The value at a dotted path (``data.items``) of a JSON document; the whole document when
    the path is empty; None when a step is missing."""
    if not path:
        return data
    for step in path.split("."):
        if isinstance(data, dict):
            data = data.get(step)
        elif isinstance(data, list) and step.isdigit() and int(step) < len(data):
            data = data[int(step)]
        else:
            return None
    return data
