"""The retry policy: a pure object that decides whether and when to try an item again."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class RetryDecision:
    """Try again after ``delay`` seconds, or give up."""

    retry: bool
    delay: float = 0.0


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped; by default 4 retries after the first attempt."""

    retries: int = 4
    first_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 300.0
    jitter: float = 0.1
    #: Items the policy gave up on are sent again by the sync's next run; off, a failed item
    #: counts as handled and travels again only when it changes.
    next_run: bool = True

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries must be 0 or more")
        if self.first_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must be 0 or more")
        if self.factor < 1:
            raise ValueError("factor must be 1 or more")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def decide(
        self,
        *,
        attempts: int,
        retryable: bool,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> RetryDecision:
        """Decide after ``attempts`` failed attempts (1 after the first one)."""
        if not retryable or attempts > self.retries:
            return RetryDecision(retry=False)
        if retry_after is not None:
            return RetryDecision(retry=True, delay=min(max(retry_after, 0.0), self.max_delay))
        base = min(self.first_delay * self.factor ** (attempts - 1), self.max_delay)
        spread = base * self.jitter
        offset = (rng or random).uniform(-spread, spread) if spread else 0.0
        return RetryDecision(retry=True, delay=max(0.0, min(base + offset, self.max_delay)))
