"""Settling a batch: the retry policy applied to a destination's answer, whichever form the
answer takes, as each item's outcome, the tally and the delay before the next attempt."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncwright.domain.retry import RetryPolicy
from syncwright.domain.statuses import EntryStatus
from syncwright.engine.settlement import settle
from syncwright.sdk.changes import BatchResult, ItemResult

POLICY = RetryPolicy(retries=2, first_delay=1.0, factor=2.0, jitter=0.0)


def test_a_batch_that_went_through_is_ok_throughout():
    settled = settle(POLICY, [0] * 5, BatchResult.ok(5))
    assert [r.status for r in settled.results] == [EntryStatus.OK] * 5
    assert settled.tally["ok"] == 5 and settled.tally["failed"] == 0
    assert settled.retry_in is None


def test_sent_batches_and_their_exceptions():
    answer = BatchResult.sent(4, {2: ItemResult.failed("refused: bad price")})
    settled = settle(POLICY, [0] * 4, answer)
    assert [r.status.value for r in settled.results] == ["sent", "sent", "failed", "sent"]
    assert settled.results[2].error == "refused: bad price"
    assert settled.tally["sent"] == 3 and settled.tally["failed"] == 1


def test_a_retryable_failure_stays_pending_while_attempts_remain():
    answer = [
        ItemResult.ok(),
        ItemResult.failed("timeout", retryable=True),
        ItemResult.failed("429", retryable=True, retry_after=30.0),
    ]
    settled = settle(POLICY, [0, 0, 0], answer)
    assert [r.status.value for r in settled.results] == ["ok", "pending", "pending"]
    assert settled.results[1].error == "timeout"
    assert settled.retry_in == 30.0  # the longest asked, Retry-After included
    assert settled.tally["pending"] == 2


def test_one_that_ran_out_of_attempts_fails_saying_how_many():
    answer = BatchResult.ok(2, {1: ItemResult.failed("timeout", retryable=True)})
    settled = settle(POLICY, [0, 2], answer)
    assert settled.results[1].status is EntryStatus.FAILED
    assert settled.results[1].error == "timeout (gave up after 3 attempts)"
    assert settled.retry_in is None
    # A failure that is not worth trying again fails at once, as said.
    settled = settle(POLICY, [0], [ItemResult.failed("no such field")])
    assert settled.results[0].error == "no such field" and settled.retry_in is None


def test_an_answer_of_another_size_is_refused():
    with pytest.raises(ValueError, match="2 results for 3 items"):
        settle(POLICY, [0, 0, 0], [ItemResult.ok()] * 2)


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=4),
            st.sampled_from(["ok", "failed", "retryable"]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_both_forms_of_an_answer_settle_alike(items):
    """The same outcomes said per item or for the batch give the same settlement."""
    attempts = [a for a, _ in items]
    per_item = [
        ItemResult.ok()
        if kind == "ok"
        else ItemResult.failed("no", retryable=kind == "retryable", retry_after=float(a))
        for a, kind in items
    ]
    exceptions = {i: r for i, r in enumerate(per_item) if r.status is EntryStatus.FAILED}
    listed = settle(POLICY, attempts, per_item)
    batched = settle(POLICY, attempts, BatchResult.ok(len(items), exceptions))
    assert listed == batched
    assert sum(listed.tally.values()) == len(items)
