"""Reads rows from an HTTP JSON API: page, cursor or Link-header pagination, auth headers,
and retries of rate-limited or failing requests.

The model's query, when given, is the path (with any query string) read under ``url``.
"""

from __future__ import annotations

import time
from typing import Any, Iterator, Literal
from urllib.parse import urljoin

import httpx
from pydantic import BaseModel, ConfigDict, Field

from syncwright.connectors.http.common import HttpAuth, dig, is_retryable, reason, retry_after
from syncwright.domain.errors import SourceError
from syncwright.domain.retry import RetryPolicy
from syncwright.sdk import Capabilities, ConnectorConfig, ReadRequest, Source


class Pagination(BaseModel):
    """How to get the next page: ``none``; ``page`` (a page number parameter, stops at an
    empty page or a short one); ``cursor`` (the next cursor read from the body, sent as a
    parameter, stops when it is empty); ``link`` (follows the ``Link: <...>; rel="next"``
    header)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["none", "page", "cursor", "link"] = "none"
    page_param: str = "page"
    start_page: int = 1
    size_param: str | None = None
    page_size: int = Field(default=100, ge=1)
    cursor_param: str = "cursor"
    cursor_path: str = "next_cursor"
    max_pages: int = Field(default=100_000, ge=1)


class HttpSourceConfig(ConnectorConfig):
    #: The API's base URL; the model's query is a path under it.
    url: str = Field(pattern=r"^https?://")
    #: Where the list of records is in each JSON answer (dotted, e.g. ``data.items``); empty
    #: when the answer is the list itself.
    records_path: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str] = Field(default_factory=dict)
    auth: HttpAuth | None = None
    pagination: Pagination = Field(default_factory=Pagination)
    timeout: float = Field(default=30.0, gt=0)
    #: Attempts after the first for a page that timed out or answered 429/5xx, with
    #: exponential backoff from ``retry_delay`` seconds (``Retry-After`` honoured).
    retries: int = Field(default=4, ge=0, le=20)
    retry_delay: float = Field(default=1.0, ge=0)


class HttpSource(Source):
    type = "http"
    config_class = HttpSourceConfig
    supports = Capabilities(incremental=False, full=True)
    config: HttpSourceConfig

    def _client(self) -> httpx.Client:
        headers = {"Accept": "application/json", **self.config.headers}
        if self.config.auth:
            headers.update(self.config.auth.headers())
        return httpx.Client(headers=headers, timeout=self.config.timeout, follow_redirects=True)

    def _url(self, query: str) -> str:
        path = query.strip()
        if not path:
            return self.config.url
        return urljoin(self.config.url.rstrip("/") + "/", path.lstrip("/"))

    def _get(self, client: httpx.Client, url: str, params: dict[str, Any]) -> httpx.Response:
        policy = RetryPolicy(retries=self.config.retries, first_delay=self.config.retry_delay)
        attempts = 0
        while True:
            attempts += 1
            try:
                response = client.get(url, params=params or None)  # None keeps the url's own query
            except httpx.TransportError as exc:
                problem, wait_hint = f"{type(exc).__name__}: {exc}", None
            else:
                if response.is_success:
                    return response
                if not is_retryable(response.status_code):
                    raise SourceError(f"GET {response.request.url}: {reason(response)}")
                problem, wait_hint = reason(response), retry_after(response)
            decision = policy.decide(attempts=attempts, retryable=True, retry_after=wait_hint)
            if not decision.retry:
                raise SourceError(f"GET {url}: {problem} (gave up after {attempts} attempts)")
            time.sleep(decision.delay)

    def check(self) -> None:
        """The API answers and accepts the credentials (the base URL itself may be no list)."""
        with self._client() as client:
            try:
                response = client.get(self.config.url, params=self.config.params or None)
            except httpx.TransportError as exc:
                raise SourceError(f"{self.config.url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code in (401, 403):
            raise SourceError(f"{self.config.url}: {reason(response)}")

    def read(self, request: ReadRequest) -> Iterator[dict[str, Any]]:
        paging = self.config.pagination
        url: str | None = self._url(request.query)
        params: dict[str, Any] = dict(self.config.params)
        if paging.type == "page":
            params[paging.page_param] = paging.start_page
            if paging.size_param:
                params[paging.size_param] = paging.page_size
        with self._client() as client:
            for page in range(paging.max_pages):
                assert url is not None
                response = self._get(client, url, params)
                try:
                    body = response.json()
                except ValueError:
                    raise SourceError(
                        f"GET {response.request.url}: the answer is not JSON:"
                        f" {response.text[:200]!r}"
                    ) from None
                records = dig(body, self.config.records_path)
                if not isinstance(records, list):
                    where = self.config.records_path or "the answer"
                    raise SourceError(
                        f"GET {response.request.url}: {where} is not a list of records"
                    )
                for record in records:
                    if not isinstance(record, dict):
                        raise SourceError(f"GET {response.request.url}: a record is not an object")
                    yield record
                if paging.type == "none":
                    return
                if paging.type == "page":
                    if not records or (paging.size_param and len(records) < paging.page_size):
                        return
                    params[paging.page_param] = paging.start_page + page + 1
                elif paging.type == "cursor":
                    cursor = dig(body, paging.cursor_path)
                    if cursor in (None, ""):
                        return
                    params[paging.cursor_param] = cursor
                else:
                    url = response.links.get("next", {}).get("url")
                    if not url:
                        return
                    url = urljoin(str(response.request.url), url)
                    if url == str(response.request.url):
                        raise SourceError(f"GET {url}: the next link points to the same page")
                    params = {}
        raise SourceError(f"stopped after max_pages={paging.max_pages} pages")
