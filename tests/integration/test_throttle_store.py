"""Throttle counts in the store on SQLite and PostgreSQL: shared by every process (several
engines counting at once lose no failure), forgotten when they hold nothing any more."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from syncwright.domain.clock import utcnow
from syncwright.domain.throttle import ThrottleKey, ThrottleKind, ThrottlePolicy
from syncwright.storage.store import Store

ACCOUNT = ThrottleKey(ThrottleKind.ACCOUNT, "ann@example.com")
ADDRESS = ThrottleKey(ThrottleKind.ADDRESS, "192.0.2.7")


@pytest.fixture
def stores(store_url):
    """Two stores on one database, as two processes of an installation have."""
    first = Store.open(store_url)
    first.upgrade()
    second = Store.open(store_url)
    yield first, second
    first.close()
    second.close()


def test_processes_counting_at_once_lose_no_failure(stores):
    policy = ThrottlePolicy(free=1000, lock_after=10_000)
    errors = []

    def guess(store, n):
        try:
            for _ in range(n):
                # both keys, in either order: the repository locks them in one order
                store.throttle.count_failure({ADDRESS: policy, ACCOUNT: policy}, utcnow())
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=guess, args=(stores[i % 2], 25)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    found = stores[0].throttle.failures([ACCOUNT, ADDRESS])
    assert found[ACCOUNT].count == found[ADDRESS].count == 100


def test_a_lock_is_seen_by_every_process_and_a_clear_ends_it(stores):
    first, second = stores
    policy = ThrottlePolicy(free=1, lock_after=3)
    now = utcnow()
    recorded = [first.throttle.count_failure({ACCOUNT: policy}, now)[ACCOUNT] for _ in range(3)]
    assert [r.locked for r in recorded] == [False, False, True]
    assert policy.decide(second.throttle.failures([ACCOUNT])[ACCOUNT], now).locked
    # a failure during the lock changes nothing
    again = second.throttle.count_failure({ACCOUNT: policy}, now + timedelta(minutes=1))
    assert not again[ACCOUNT].counted
    assert first.throttle.failures([ACCOUNT])[ACCOUNT].last_at == now
    second.throttle.clear([ACCOUNT])
    assert first.throttle.failures([ACCOUNT, ADDRESS]) == {}


def test_counts_that_hold_nothing_any_more_are_deleted(stores):
    store = stores[0]
    policy = ThrottlePolicy()
    long_ago = utcnow() - policy.kept_for - timedelta(minutes=1)
    stale = ThrottleKey(ThrottleKind.ACCOUNT, "gone@example.com")
    other_kind = ThrottleKey(ThrottleKind.TOKEN, "192.0.2.7")
    store.throttle.count_failure({stale: policy, other_kind: policy}, long_ago)
    store.throttle.count_failure({ACCOUNT: policy}, utcnow())
    found = store.throttle.failures([stale, other_kind, ACCOUNT])
    # the stale account count went with the next account failure; other kinds wait for theirs
    assert set(found) == {other_kind, ACCOUNT}
