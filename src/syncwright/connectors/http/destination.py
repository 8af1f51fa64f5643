"""Sends changes to an HTTP API or webhook as JSON: batches (or one item per request), a
method, headers, auth, body and item templates; per-item results read from the answer.

429 and ``Retry-After`` are honoured, timeouts and 5xx are retryable (the sync's retry policy
decides), other 4xx fail the item with the API's reason. A request rejected whole is split in
halves until the rejected items stand alone, so every other item still goes through.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Literal

import httpx
from pydantic import Field, ValidationInfo, field_validator

from syncwright.connectors.http.common import HttpAuth, dig, is_retryable, reason, retry_after
from syncwright.connectors.http.template import names, render
from syncwright.domain.errors import DestinationError
from syncwright.domain.statuses import Operation
from syncwright.sdk import (
    Capabilities,
    Change,
    ChangeBatch,
    ConnectorConfig,
    Destination,
    ItemResult,
)

Method = Literal["POST", "PUT", "PATCH", "DELETE"]

DEFAULT_ITEM = {"operation": "{{ operation }}", "key": "{{ key }}", "fields": "{{ fields }}"}


class HttpDestinationConfig(ConnectorConfig):
    #: Where to send; with ``batch_size: 1`` it may name item fields, e.g.
    #: ``.../{{ reference }}`` (removed items have only their key and reference).
    url: str = Field(pattern=r"^https?://")
    method: Method = "POST"
    #: The method for removed items (mirror syncs); ``method`` when left out.
    remove_method: Method | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    auth: HttpAuth | None = None
    #: Items per request; 1 sends one item per request with the item itself as the body.
    batch_size: int = Field(default=100, ge=1, le=10_000, validate_default=True)
    #: The JSON of one item. Names: any field of the row, ``operation``, ``reference``,
    #: ``key``, ``fields``.
    item_template: Any = Field(default_factory=lambda: dict(DEFAULT_ITEM))
    #: The JSON body of a request: ``{{ items }}`` is the list of items (``{{ item }}`` the
    #: item when ``batch_size`` is 1). Default: ``{"items": "{{ items }}"}``, or the item.
    body_template: Any = None
    #: Where the answer lists one result per item, in order (dotted path; ``""``: the answer
    #: itself is the list). Without it, a 2xx answer means every item is ok.
    results_path: str | None = None
    #: In an item's result (or a single item's answer): its id at the endpoint, and its error.
    result_id_path: str = "id"
    result_error_path: str = "error"
    concurrency: int = Field(default=4, ge=1, le=64)
    #: Requests per second at most, across the destination's concurrent requests.
    rate_limit: float | None = Field(default=None, gt=0)
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("batch_size")
    @classmethod
    def _one_per_named_url(cls, value: int, info: ValidationInfo) -> int:
        if value != 1 and names(info.data.get("url", "")):
            raise ValueError("the url names item fields, which needs batch_size: 1")
        return value

    def single(self) -> bool:
        return self.batch_size == 1


class RateLimiter:
    """At most ``rate`` request starts per second, shared by the destination's threads."""

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.clock, self.sleep = clock, sleep
        self.next_slot = clock()
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = self.clock()
            slot = max(self.next_slot, now)
            self.next_slot = slot + self.interval
        if slot > now:
            self.sleep(slot - now)


class HttpDestination(Destination):
    type = "http"
    config_class = HttpDestinationConfig
    supports = Capabilities(incremental=True, full=True, deletes=True)
    config: HttpDestinationConfig

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        headers = {"Content-Type": "application/json", **self.config.headers}
        if self.config.auth:
            headers.update(self.config.auth.headers())
        self.client = httpx.Client(headers=headers, timeout=self.config.timeout)
        self.limiter = RateLimiter(self.config.rate_limit)

    def close(self) -> None:
        self.client.close()

    def check(self) -> None:
        """The endpoint answers (any HTTP answer but 401/403: a webhook may refuse OPTIONS)."""
        url = self.config.url.split("{{")[0]
        try:
            response = self.client.request("OPTIONS", url)
        except httpx.TransportError as exc:
            raise DestinationError(f"{url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code in (401, 403):
            raise DestinationError(f"{url}: {reason(response)}")

    # -- building requests ------------------------------------------------------------------
    def _item(self, change: Change) -> dict[str, Any]:
        fields = change.fields or {}
        values = {
            **change.key,
            **fields,
            "operation": change.operation.value,
            "reference": change.reference,
            "key": change.key,
            "fields": change.fields,
        }
        return values

    def _request(self, changes: list[Change]) -> tuple[str, str, Any]:
        config = self.config
        items = [render(config.item_template, self._item(c)) for c in changes]
        removing = changes[0].operation is Operation.REMOVE
        method = (config.remove_method or config.method) if removing else config.method
        if config.single():
            values = self._item(changes[0])
            url = render(config.url, values)
            template = config.body_template if config.body_template is not None else "{{ item }}"
            body = render(template, {**values, "item": items[0]})
        else:
            url = config.url
            template = config.body_template or {"items": "{{ items }}"}
            body = render(template, {"items": items})
        return method, url, body

    # -- sending ----------------------------------------------------------------------------
    def write(self, batch: ChangeBatch) -> list[ItemResult]:
        # Removals go in their own requests (they may use another method).
        groups: list[list[int]] = []
        size = self.config.batch_size
        for removing in (False, True):
            picked = [
                i
                for i, c in enumerate(batch.changes)
                if (c.operation is Operation.REMOVE) == removing
            ]
            groups.extend(picked[i : i + size] for i in range(0, len(picked), size))
        results: list[ItemResult | None] = [None] * len(batch.changes)
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            answers = pool.map(lambda g: self._send([batch.changes[i] for i in g]), groups)
            for group, answer in zip(groups, answers):
                for i, result in zip(group, answer):
                    results[i] = result
        return [r or ItemResult.failed("no result") for r in results]

    def _send(self, changes: list[Change]) -> list[ItemResult]:
        method, url, body = self._request(changes)
        self.limiter.wait()
        try:
            response = self.client.request(
                method, url, content=json.dumps(body, default=str).encode()
            )
        except httpx.TimeoutException as exc:
            return [ItemResult.failed(f"{method} {url}: timed out ({exc})", retryable=True)] * len(
                changes
            )
        except httpx.TransportError as exc:
            failure = f"{method} {url}: {type(exc).__name__}: {exc}"
            return [ItemResult.failed(failure, retryable=True)] * len(changes)
        if response.is_success:
            return self._results(response, changes)
        if is_retryable(response.status_code):
            failure = ItemResult.failed(
                reason(response), retryable=True, retry_after=retry_after(response)
            )
            return [failure] * len(changes)
        if len(changes) > 1:  # rejected whole: find the bad items by halves
            half = len(changes) // 2
            return self._send(changes[:half]) + self._send(changes[half:])
        return [ItemResult.failed(reason(response))]

    def _results(self, response: httpx.Response, changes: list[Change]) -> list[ItemResult]:
        config = self.config
        try:
            answer = response.json() if response.content else None
        except ValueError:
            answer = None
            if config.results_path is not None:
                problem = f"HTTP {response.status_code}: the answer is not JSON"
                return [ItemResult.failed(f"{problem}: {response.text[:200]!r}")] * len(changes)
        if config.results_path is None:
            if config.single() and isinstance(answer, dict):
                found = dig(answer, config.result_id_path)
                return [ItemResult.ok(None if found is None else str(found))]
            return [ItemResult.ok()] * len(changes)
        listed = dig(answer, config.results_path)
        if not isinstance(listed, list) or len(listed) != len(changes):
            count = len(listed) if isinstance(listed, list) else "no"
            problem = f"the answer has {count} results for {len(changes)} items"
            return [ItemResult.failed(problem)] * len(changes)
        results = []
        for item in listed:
            error = dig(item, config.result_error_path) if isinstance(item, dict) else None
            if error:
                results.append(ItemResult.failed(str(error)))
                continue
            found = dig(item, config.result_id_path) if isinstance(item, dict) else None
            results.append(ItemResult.ok(None if found is None else str(found)))
        return results
