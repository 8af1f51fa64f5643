"""Sends changes to an HTTP API or webhook as JSON: batches (or one item per request), a
method, headers, auth, body and item templates; per-item results read from the answer.
Additions, changes and removals may each have their own request (``add``, ``change``,
``remove``: a method and a URL, one item per request), so one destination mirrors a plain
REST collection.

429 and ``Retry-After`` are honoured, timeouts and 5xx are retryable (the sync's retry policy
decides), other 4xx fail the item with the API's reason; an item's own status in a batch
answer (207 Multi-Status, or a results list) is read the same way. A request rejected whole
is split in halves until the rejected items stand alone, so every other item still goes
through.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from syncwright.connectors.http.common import (
    HttpAuth,
    dig,
    is_retryable,
    reason,
    retry_after,
    status_code,
    status_reason,
    wait_asked,
)
from syncwright.connectors.http.template import names, render, render_url
from syncwright.domain.errors import DestinationError
from syncwright.domain.statuses import EntryStatus, Operation, WriteMode
from syncwright.sdk import (
    Capabilities,
    Change,
    ChangeBatch,
    ConnectorConfig,
    Destination,
    ItemResult,
)
from syncwright.sdk.changes import EXCHANGE_BODY, capped_exchange

Method = Literal["POST", "PUT", "PATCH", "DELETE"]

DEFAULT_ITEM = {"operation": "{{ operation }}", "key": "{{ key }}", "fields": "{{ fields }}"}


class HttpOperation(BaseModel):
    """The request of one operation (``add``, ``change`` or ``remove``), one item per request:
    e.g. ``{method: PUT, url: "https://api/items/{{ id }}"}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The destination's ``method`` when left out (``remove_method`` for removals).
    method: Method | None = None
    #: The destination's ``url`` when left out; it may name the item's fields.
    url: str | None = Field(default=None, pattern=r"^https?://")
    #: The JSON body: ``{{ item }}`` is the item built by ``item_template``. Default: the
    #: item, and no body for a ``DELETE``.
    body_template: Any = None


class HttpDestinationConfig(ConnectorConfig):
    #: Where to send; with ``batch_size: 1`` it may name item fields, e.g.
    #: ``.../{{ reference }}`` (removed items have only their key and reference).
    url: str = Field(pattern=r"^https?://")
    method: Method = "POST"
    #: The method for removed items (mirror syncs); ``method`` when left out.
    remove_method: Method | None = None
    #: Their own request for additions, changes or removals, one item per request (the
    #: others go to ``url`` in batches of ``batch_size``).
    add: HttpOperation | None = None
    change: HttpOperation | None = None
    remove: HttpOperation | None = None
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
    #: In an item's result: its HTTP status (``503``), read like the status of a whole
    #: answer, and the seconds its ``Retry-After`` asks (else the answer's header).
    result_status_path: str = "status"
    result_retry_after_path: str = "retry_after"
    concurrency: int = Field(default=4, ge=1, le=64)
    #: Requests per second at most, across the destination's concurrent requests.
    rate_limit: float | None = Field(default=None, gt=0)
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("batch_size")
    @classmethod
    def _one_per_named_url(cls, value: int, info: ValidationInfo) -> int:
        batched = not all(info.data.get(op) for op in ("add", "change", "remove"))
        if value != 1 and batched and names(info.data.get("url", "")):
            raise ValueError(
                "the url names item fields, which needs batch_size: 1"
                " (or add, change and remove each with its own request)"
            )
        return value

    def single(self) -> bool:
        return self.batch_size == 1

    def own_request(self, operation: Operation) -> HttpOperation | None:
        """The operation's own request, when it has one."""
        if operation is Operation.ADD:
            return self.add
        if operation is Operation.CHANGE:
            return self.change
        return self.remove

    def method_for(self, operation: Operation) -> Method:
        own = self.own_request(operation)
        if own is not None and own.method is not None:
            return own.method
        if operation is Operation.REMOVE and self.remove_method is not None:
            return self.remove_method
        return self.method


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


#: Query parameters whose values are never kept (they carry credentials).
_SECRET_PARAM = re.compile(r"key|token|secret|pass|auth|sig|credential|session", re.IGNORECASE)


def _body_text(content: bytes | None) -> str | None:
    """A body as text, no longer than the report keeps (which cuts it to characters)."""
    if content is None:
        return None
    return content[: EXCHANGE_BODY * 4].decode("utf-8", errors="replace")


def exchange(
    method: str, url: str, content: bytes | None, response: httpx.Response
) -> dict[str, Any]:
    """The request that failed items and the answer, for their report entries: the body
    sent (after templates) and the one received, capped; the URL without credentials in its
    query; never headers."""
    parsed = httpx.URL(url)
    if parsed.query:
        query = "&".join(
            f"{quote(name)}={'***' if _SECRET_PARAM.search(name) else quote(value)}"
            for name, value in parsed.params.multi_items()
        )
        parsed = parsed.copy_with(query=query.encode())
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    return capped_exchange(
        {
            "request": {"method": method, "url": str(parsed), "body": _body_text(content)},
            "response": {"status": response.status_code, "body": _body_text(response.content)},
        }
    )


def _with_exchange(
    results: list[ItemResult], changes: list[Change], sent: dict[str, Any]
) -> list[ItemResult]:
    """The failed items of one request with its exchange: the first with the bodies, the
    others with where to find them (a batch's bodies are kept once)."""
    first: str | None = None
    kept: list[ItemResult] = []
    for result, change in zip(results, changes):
        if result.status is not EntryStatus.FAILED:
            kept.append(result)
            continue
        if first is None:
            first = change.reference or json.dumps(change.key, default=str)
            kept.append(dataclasses.replace(result, exchange=sent))
            continue
        shared = {
            side: {**values, "body": None, "body_with": first}
            for side, values in sent.items()
            if isinstance(values, dict)
        }
        kept.append(dataclasses.replace(result, exchange=shared))
    return kept


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Request:
    """A request to send: ``own`` when it is an operation's own request (one item, answered
    as that item)."""

    method: str
    url: str
    has_body: bool
    body: Any
    own: bool


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

    def _request(self, changes: list[Change]) -> _Request:
        config = self.config
        items = [render(config.item_template, self._item(c)) for c in changes]
        operation = changes[0].operation
        method = config.method_for(operation)
        own = config.own_request(operation)
        if own is not None:
            values = self._item(changes[0])
            template = own.body_template
            if template is None and method != "DELETE":
                template = "{{ item }}"
            body = None if template is None else render(template, {**values, "item": items[0]})
            url = render_url(own.url or config.url, values)
            return _Request(
                method=method, url=url, has_body=template is not None, body=body, own=True
            )
        if config.single():
            values = self._item(changes[0])
            url = render_url(config.url, values)
            template = config.body_template if config.body_template is not None else "{{ item }}"
            body = render(template, {**values, "item": items[0]})
        else:
            url = config.url
            template = config.body_template or {"items": "{{ items }}"}
            body = render(template, {"items": items})
        return _Request(method=method, url=url, has_body=True, body=body, own=False)

    # -- sending ----------------------------------------------------------------------------
    def write(self, batch: ChangeBatch) -> list[ItemResult]:
        config = self.config
        # An operation with its own request goes one item per request; the others in
        # batches, removals in their own (they may use another method).
        own = [
            i for i, c in enumerate(batch.changes) if config.own_request(c.operation) is not None
        ]
        groups: list[list[int]] = [[i] for i in own]
        size = config.batch_size
        for removing in (False, True):
            picked = [
                i
                for i, c in enumerate(batch.changes)
                if (c.operation is Operation.REMOVE) == removing
                and config.own_request(c.operation) is None
            ]
            groups.extend(picked[i : i + size] for i in range(0, len(picked), size))
        results: list[ItemResult | None] = [None] * len(batch.changes)
        with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
            answers = pool.map(
                lambda g: self._send([batch.changes[i] for i in g], batch.write_mode), groups
            )
            for group, answer in zip(groups, answers):
                for i, result in zip(group, answer):
                    results[i] = result
        return [r or ItemResult.failed("no result") for r in results]

    def _send(
        self, changes: list[Change], mode: WriteMode, *, instead: bool = True
    ) -> list[ItemResult]:
        request = self._request(changes)
        method, url = request.method, request.url
        content = json.dumps(request.body, default=str).encode() if request.has_body else None
        self.limiter.wait()
        try:
            response = self.client.request(method, url, content=content)
        except httpx.TimeoutException as exc:
            return [ItemResult.failed(f"{method} {url}: timed out ({exc})", retryable=True)] * len(
                changes
            )
        except httpx.TransportError as exc:
            failure = f"{method} {url}: {type(exc).__name__}: {exc}"
            return [ItemResult.failed(failure, retryable=True)] * len(changes)
        if response.is_success:
            results = self._results(response, changes, own=request.own)
            if any(r.status is EntryStatus.FAILED for r in results):
                results = _with_exchange(results, changes, exchange(method, url, content, response))
            return results
        if is_retryable(response.status_code):
            failure = ItemResult.failed(
                reason(response), retryable=True, retry_after=retry_after(response)
            )
            return _with_exchange(
                [failure] * len(changes), changes, exchange(method, url, content, response)
            )
        if request.own and instead:
            other = self._instead(changes[0], response.status_code, mode)
            if isinstance(other, ItemResult):
                return [other]
            if other is not None:
                return self._send([other], mode, instead=False)
        if len(changes) > 1:  # rejected whole: find the bad items by halves
            half = len(changes) // 2
            return self._send(changes[:half], mode) + self._send(changes[half:], mode)
        return [
            ItemResult.failed(reason(response), exchange=exchange(method, url, content, response))
        ]

    def _instead(self, change: Change, status: int, mode: WriteMode) -> Change | ItemResult | None:
        """What a refusal of an item's own request means, read as a REST collection answers:
        a removal answered 404/410 is done already; in upsert and mirror syncs, an addition
        answered 409 (the item exists) goes again as a change, and a change answered 404 (it
        is gone) as an addition, when that operation has its own request too. None: the
        refusal stands."""
        if change.operation is Operation.REMOVE:
            return ItemResult.ok() if status in (404, 410) else None
        if mode not in (WriteMode.UPSERT, WriteMode.MIRROR):
            return None
        if change.operation is Operation.ADD and status == 409 and self.config.change:
            return dataclasses.replace(change, operation=Operation.CHANGE)
        if change.operation is Operation.CHANGE and status == 404 and self.config.add:
            return dataclasses.replace(change, operation=Operation.ADD)
        return None

    def _results(
        self, response: httpx.Response, changes: list[Change], *, own: bool
    ) -> list[ItemResult]:
        config = self.config
        per_item = config.results_path is not None and not own
        try:
            answer = response.json() if response.content else None
        except ValueError:
            answer = None
            if per_item:
                problem = f"HTTP {response.status_code}: the answer is not JSON"
                return [ItemResult.failed(f"{problem}: {response.text[:200]!r}")] * len(changes)
        if not per_item:
            if response.status_code == 207 and not own:
                problem = (
                    "HTTP 207 Multi-Status: the answer has a result per item; set results_path"
                )
                return [ItemResult.failed(problem)] * len(changes)
            if (own or config.single()) and isinstance(answer, dict):
                found = dig(answer, config.result_id_path)
                return [ItemResult.ok(None if found is None else str(found))]
            return [ItemResult.ok()] * len(changes)
        listed = dig(answer, config.results_path)
        if not isinstance(listed, list) or len(listed) != len(changes):
            count = len(listed) if isinstance(listed, list) else "no"
            problem = f"the answer has {count} results for {len(changes)} items"
            return [ItemResult.failed(problem)] * len(changes)
        wait = retry_after(response)
        return [self._item_result(item, wait) for item in listed]

    def _item_result(self, item: Any, wait: float | None) -> ItemResult:
        """One item's result in a batch answer: its own status, when it has one, is read like
        a whole answer's (2xx ok; 429, 5xx retryable after its or the answer's Retry-After;
        other statuses failed with its error); else a non-empty error fails it."""
        if not isinstance(item, dict):
            return ItemResult.ok()
        config = self.config
        error = dig(item, config.result_error_path)
        status = status_code(dig(item, config.result_status_path))
        if status is not None and not 200 <= status < 300:
            problem = status_reason(status, error)
            if is_retryable(status):
                own_wait = wait_asked(dig(item, config.result_retry_after_path))
                return ItemResult.failed(
                    problem, retryable=True, retry_after=wait if own_wait is None else own_wait
                )
            return ItemResult.failed(problem)
        if error and status is None:
            return ItemResult.failed(str(error))
        found = dig(item, config.result_id_path)
        return ItemResult.ok(None if found is None else str(found))
