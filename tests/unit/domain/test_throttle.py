from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncwright.domain.throttle import (
    ALLOWED,
    Failures,
    ThrottleDecision,
    ThrottleKey,
    ThrottleKind,
    ThrottlePolicy,
    Throttles,
    in_words,
    strictest,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def _fail(policy, times):
    """The count after a failure at each of ``times``, as the store keeps it."""
    failures = None
    for at in times:
        failures = policy.record(failures, at).failures
    return failures


def test_the_first_failures_are_free():
    policy = ThrottlePolicy(free=5)
    failures = _fail(policy, [T0] * 5)
    assert failures.count == 5
    assert policy.decide(failures, T0) == ALLOWED


def test_each_failure_past_the_free_ones_doubles_the_wait():
    policy = ThrottlePolicy(free=5, first_delay=S, max_delay=timedelta(minutes=1), lock_after=20)
    waits = []
    for count in range(6, 15):
        failures = _fail(policy, [T0] * count)
        decision = policy.decide(failures, T0)
        assert not decision.allowed and not decision.locked
        waits.append(decision.retry_after(T0))
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_the_wait_runs_from_the_last_failure_and_then_the_attempt_is_checked():
    policy = ThrottlePolicy(free=1, first_delay=10 * S)
    failures = _fail(policy, [T0, T0 + 5 * S])  # the second one: 10 s from then
    assert policy.decide(failures, T0 + 14 * S).until == T0 + 15 * S
    assert policy.decide(failures, T0 + 15 * S) == ALLOWED


def test_enough_failures_lock_the_key_until_the_lock_runs_out():
    policy = ThrottlePolicy(free=5, lock_after=10, lock_for=timedelta(minutes=15))
    failures = _fail(policy, [T0 + n * S for n in range(10)])
    locked_at = T0 + 9 * S
    decision = policy.decide(failures, locked_at + timedelta(minutes=1))
    assert decision.locked and decision.until == locked_at + timedelta(minutes=15)
    assert decision.retry_after(locked_at + timedelta(minutes=1)) == 14 * 60
    assert policy.decide(failures, locked_at + timedelta(minutes=15)) == ALLOWED


def test_the_failure_that_reaches_the_limit_says_it_locked():
    policy = ThrottlePolicy(free=1, lock_after=3)
    failures = _fail(policy, [T0, T0])
    third = policy.record(failures, T0)
    assert third.locked and third.counted and third.failures.count == 3
    assert not policy.record(_fail(policy, [T0]), T0).locked


def test_a_lock_is_not_extended_by_attempts_during_it():
    policy = ThrottlePolicy(free=1, lock_after=3, lock_for=timedelta(minutes=15))
    failures = _fail(policy, [T0, T0, T0])
    again = policy.record(failures, T0 + timedelta(minutes=10))
    assert not again.counted and not again.locked and again.failures == failures
    assert policy.decide(again.failures, T0 + timedelta(minutes=15)) == ALLOWED


def test_once_a_lock_runs_out_the_count_starts_again():
    policy = ThrottlePolicy(free=5, lock_after=10, lock_for=timedelta(minutes=15))
    failures = _fail(policy, [T0] * 10)
    after = T0 + timedelta(minutes=15)
    assert policy.current(failures, after) is None
    fresh = policy.record(failures, after)
    assert fresh.failures == Failures(count=1, first_at=after, last_at=after)


def test_a_count_is_forgotten_after_its_window():
    policy = ThrottlePolicy(free=5, forget_after=timedelta(hours=1))
    failures = _fail(policy, [T0, T0 + timedelta(minutes=50)])
    assert policy.current(failures, T0 + timedelta(minutes=59)) == failures
    assert policy.current(failures, T0 + timedelta(hours=1)) is None
    assert policy.record(failures, T0 + timedelta(hours=1)).failures.count == 1


def test_no_count_allows_and_is_nothing_to_keep():
    policy = ThrottlePolicy()
    assert policy.decide(None, T0) == ALLOWED
    assert policy.current(Failures(count=0, first_at=T0, last_at=T0), T0) is None
    assert policy.kept_for == timedelta(hours=1)


@pytest.mark.parametrize(
    "settings",
    [
        {"free": -1},
        {"free": 5, "lock_after": 5},
        {"first_delay": timedelta(0)},
        {"lock_for": -S},
        {"forget_after": timedelta(0)},
    ],
)
def test_a_policy_that_makes_no_sense_is_refused(settings):
    with pytest.raises(ValueError):
        ThrottlePolicy(**settings)


@given(st.lists(st.integers(0, 4000), min_size=1, max_size=60))
def test_a_guesser_is_locked_after_the_limit_however_the_attempts_are_spaced(gaps):
    """Attempts refused during a wait count too, so hammering locks as fast as waiting does;
    an attempt is checked only once the wait after the previous failure is over."""
    policy = ThrottlePolicy(free=3, lock_after=6, lock_for=timedelta(minutes=15))
    failures, at, tried = None, T0, 0
    for gap in gaps:
        at += timedelta(milliseconds=gap)
        decision = policy.decide(failures, at)
        if decision.locked:
            break
        if decision.allowed and failures is not None:
            assert at - failures.last_at >= policy.delay(failures.count)
        failures = policy.record(failures, at).failures
        tried += 1
    assert tried == min(len(gaps), policy.lock_after)


def test_addresses_get_more_free_failures_than_accounts():
    throttles = Throttles()
    assert throttles.policy(ThrottleKind.ADDRESS).free > throttles.policy(ThrottleKind.ACCOUNT).free
    assert throttles.policy(ThrottleKind.TOKEN) is throttles.token


def test_the_strictest_refusal_is_a_lock_then_the_longest_wait():
    account = ThrottleKey(ThrottleKind.ACCOUNT, "ann@example.com")
    address = ThrottleKey(ThrottleKind.ADDRESS, "192.0.2.1")
    short = ThrottleDecision(allowed=False, until=T0 + S)
    long = ThrottleDecision(allowed=False, until=T0 + 60 * S)
    lock = ThrottleDecision(allowed=False, until=T0 + 30 * S, locked=True)
    assert strictest({account: ALLOWED, address: ALLOWED}) is None
    assert strictest({account: short, address: long}) == (address, long)
    assert strictest({account: lock, address: long}) == (account, lock)
    assert str(account) == "account:ann@example.com"


def test_waits_in_words_round_up_to_whole_minutes():
    assert [in_words(s) for s in (1, 45, 60, 61, 14 * 60, 900)] == [
        "1 second",
        "45 seconds",
        "1 minute",
        "2 minutes",
        "14 minutes",
        "15 minutes",
    ]
