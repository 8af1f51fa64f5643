"""Schedules: intervals on the clock, cron in a time zone across daylight saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncwright.domain.errors import ConfigError
from syncwright.domain.triggers import Schedule, Triggers, parse_every


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def ticks(schedule, start, count):
    found, moment = [], start
    for _ in range(count):
        moment = schedule.next_after(moment)
        found.append(moment)
    return found


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), (90, 90), ("1.5m", 90)],
)
def test_durations(text, seconds):
    assert parse_every(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "0s", "-5m", "15 minutes"])
def test_bad_durations_are_refused_naming_the_field(bad):
    with pytest.raises(ConfigError, match="every"):
        parse_every(bad)


def test_an_interval_ticks_on_the_clock_once_per_period():
    every = Schedule(every=900)
    assert ticks(every, utc(2026, 11, 22, 10, 7, 13), 3) == [
        utc(2026, 11, 22, 10, 15),
        utc(2026, 11, 22, 10, 30),
        utc(2026, 11, 22, 10, 45),
    ]
    assert every.next_after(utc(2026, 11, 22, 10, 15)) == utc(
        2026, 11, 22, 10, 30
    )  # strictly after


@given(
    seconds=st.integers(min_value=1, max_value=86400 * 3),
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
)
def test_interval_ticks_are_strictly_later_and_at_most_one_period_away(seconds, moment):
    moment = moment.replace(tzinfo=UTC)
    following = Schedule(every=seconds).next_after(moment)
    assert moment < following <= moment + timedelta(seconds=seconds)


@given(
    seconds=st.integers(min_value=1, max_value=86400),
    key=st.text(min_size=1, max_size=40),
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
)
def test_a_keyed_interval_keeps_its_period_with_a_stable_phase(seconds, key, moment):
    moment = moment.replace(tzinfo=UTC)
    schedule = Schedule(every=seconds)
    first = schedule.next_after(moment, key)
    assert moment < first <= moment + timedelta(seconds=seconds)
    assert schedule.next_after(first, key) == first + timedelta(seconds=seconds)
    assert 0 <= schedule.phase(key) < seconds and schedule.phase(key) == schedule.phase(key)
    assert (first - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() % seconds == (
        schedule.phase(key)
    )


def test_syncs_on_one_interval_are_spread_over_the_period():
    """200 syncs every minute do not all start in the same second."""
    every = Schedule(every=60)
    phases = {every.phase(f"sync-{n}") for n in range(200)}
    assert len(phases) > 40 and min(phases) < 10 and max(phases) > 50


def test_cron_in_a_time_zone_when_clocks_go_forward():
    # Europe/Paris, 29 March 2026: 02:00 CET becomes 03:00 CEST; 02:30 does not exist.
    daily = Schedule(cron="30 2 * * *", timezone="Europe/Paris")
    assert ticks(daily, utc(2026, 3, 27, 12), 3) == [
        utc(2026, 3, 28, 1, 30),  # 02:30 CET
        utc(2026, 3, 29, 1, 0),  # the gap's end: 03:00 CEST, once
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
    ]


def test_cron_in_a_time_zone_when_clocks_go_back():
    # Europe/Paris, 25 October 2026: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    daily = Schedule(cron="30 2 * * *", timezone="Europe/Paris")
    assert ticks(daily, utc(2026, 10, 24, 12), 2) == [
        utc(2026, 10, 25, 0, 30),  # the first 02:30 (CEST), and only that one
        utc(2026, 10, 26, 1, 30),  # 02:30 CET
    ]
    half_hourly = Schedule(cron="*/30 * * * *", timezone="Europe/Paris")
    found = ticks(half_hourly, utc(2026, 10, 24, 23, 50), 6)
    assert found == sorted(set(found))  # never twice, never backwards
    assert utc(2026, 10, 25, 1, 30) not in found  # the repeated 02:30 CET is not run again


def test_cron_keeps_local_time_across_the_change():
    weekday_6am = Schedule(cron="0 6 * * 1-5", timezone="America/New_York")
    before, after = ticks(weekday_6am, utc(2026, 10, 29, 12), 2)  # Fri 30, then Mon 2 Nov
    assert (before, after) == (utc(2026, 10, 30, 10), utc(2026, 11, 2, 11))  # 06:00 EDT, 06:00 EST


def test_bad_schedules_are_refused_naming_the_field():
    with pytest.raises(ConfigError, match="cron"):
        Schedule(cron="every day")
    with pytest.raises(ConfigError, match="timezone"):
        Schedule(cron="0 6 * * *", timezone="Mars/Olympus")
    with pytest.raises(ConfigError, match="schedule"):
        Schedule(every=60, cron="* * * * *")


def test_triggers_describe_themselves():
    assert Triggers().describe() == "manual"
    both = Triggers(schedule=Schedule(every=900), after=("a",), on_change=True)
    assert both.describe() == "every 15m; after a; on change"
