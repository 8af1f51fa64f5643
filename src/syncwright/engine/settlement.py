"""Settling a delivered batch: the destination's answer, with the sync's retry policy applied,
as each item's outcome, the batch's tally and how long to wait before trying again. Pure: it
reads no store and calls no destination.

An answer for the whole batch (``BatchResult``) is settled by its exceptions alone, so a
batch that went through costs no work per item here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from syncwright.domain.retry import RetryPolicy
from syncwright.domain.statuses import EntryStatus
from syncwright.sdk.changes import BatchResult, ItemResult


@dataclass(frozen=True, kw_only=True)
class Settlement:
    """One outcome per item (``pending``: tried again later), the count of each status, and
    the delay before the batch's next attempt when an item is to be tried again."""

    results: list[ItemResult]
    tally: dict[str, int]
    retry_in: float | None = None


def settle(
    policy: RetryPolicy, attempts: Sequence[int], answer: Sequence[ItemResult] | BatchResult
) -> Settlement:
    """``attempts``: how many times each item was tried before this delivery. A retryable
    failure stays pending while the policy allows another attempt (the longest delay asked,
    ``Retry-After`` included, is the batch's); one that runs out of attempts says how many
    were made. The answer must hold one result per item."""
    if len(answer) != len(attempts):
        raise ValueError(f"{len(answer)} results for {len(attempts)} items")
    if isinstance(answer, BatchResult):
        results = answer.results()
        considered: Sequence[int] = sorted(answer.exceptions)
    else:
        results = list(answer)
        considered = range(len(results))
    retry_in: float | None = None
    for index in considered:
        result = results[index]
        if result.status is not EntryStatus.FAILED:
            continue
        tries = attempts[index] + 1
        if result.retryable:
            decision = policy.decide(attempts=tries, retryable=True, retry_after=result.retry_after)
            if decision.retry:
                retry_in = max(retry_in or 0.0, decision.delay)
                results[index] = ItemResult(
                    status=EntryStatus.PENDING, error=result.error, exchange=result.exchange
                )
                continue
        if result.retryable and tries > 1:
            results[index] = ItemResult.failed(
                f"{result.error} (gave up after {tries} attempts)", exchange=result.exchange
            )
    tally = {s.value: 0 for s in EntryStatus}
    if isinstance(answer, BatchResult) and not answer.exceptions:
        tally[answer.status.value] = answer.size
    else:
        tally.update(Counter(r.status.value for r in results))
    return Settlement(results=results, tally=tally, retry_in=retry_in)
