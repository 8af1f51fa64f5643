import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncwright.domain.retry import RetryPolicy


def test_default_is_four_retries():
    policy = RetryPolicy()
    assert [policy.decide(attempts=n, retryable=True).retry for n in range(1, 6)] == [
        True,
        True,
        True,
        True,
        False,
    ]


def test_non_retryable_errors_give_up_at_once():
    assert not RetryPolicy().decide(attempts=1, retryable=False).retry


def test_backoff_grows_and_is_capped():
    policy = RetryPolicy(first_delay=1, factor=2, max_delay=5, jitter=0, retries=10)
    assert [policy.decide(attempts=n, retryable=True).delay for n in (1, 2, 3, 4)] == [1, 2, 4, 5]


def test_retry_after_is_honoured_up_to_the_cap():
    policy = RetryPolicy(max_delay=60)
    assert policy.decide(attempts=1, retryable=True, retry_after=30).delay == 30
    assert policy.decide(attempts=1, retryable=True, retry_after=600).delay == 60


@given(st.integers(1, 4), st.integers(0, 2**32))
def test_jitter_stays_within_its_share(attempts, seed):
    policy = RetryPolicy(first_delay=2, factor=3, max_delay=1000, jitter=0.1)
    base = 2 * 3 ** (attempts - 1)
    delay = policy.decide(attempts=attempts, retryable=True, rng=random.Random(seed)).delay
    assert base * 0.9 <= delay <= base * 1.1


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="factor"):
        RetryPolicy(factor=0.5)
    with pytest.raises(ValueError, match="retries"):
        RetryPolicy(retries=-1)
