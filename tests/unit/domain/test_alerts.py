"""What each alert condition judges, from a sync's recent runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syncwright.domain.alerts import (
    AlertRule,
    Condition,
    Event,
    Notice,
    RunFact,
    SyncFacts,
    Thresholds,
    check_thresholds,
    judge,
)
from syncwright.domain.errors import ConfigError
from syncwright.domain.statuses import RunStatus

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def rule(condition: Condition, **thresholds) -> AlertRule:
    return AlertRule(
        id="r",
        workspace_id="w",
        name="rule",
        condition=condition,
        sync_id=None,
        thresholds=Thresholds(**thresholds),
        channel_ids=("c",),
    )


def run(
    n: int,
    status: RunStatus = RunStatus.SUCCEEDED,
    *,
    read: int = 100,
    changes: int = 10,
    failed: int = 0,
    seconds: float = 60,
    error: str | None = None,
) -> RunFact:
    ended = NOW - timedelta(hours=n)
    return RunFact(
        id=f"run-{n}",
        status=status,
        read=read,
        changes=changes,
        failed=failed,
        started_at=ended - timedelta(seconds=seconds),
        ended_at=ended,
        error=error,
    )


def facts(*ended: RunFact, live: RunFact | None = None, enabled: bool = True, **kw) -> SyncFacts:
    return SyncFacts(
        sync_id="s",
        sync_name="sync",
        enabled=enabled,
        created_at=NOW - timedelta(days=30),
        ended=ended,
        live=live,
        **kw,
    )


def test_run_failed_and_incomplete_look_at_the_last_run():
    failed = rule(Condition.RUN_FAILED)
    assert judge(failed, facts(), NOW) is None
    verdict = judge(failed, facts(run(1, RunStatus.FAILED, error="boom"), run(2)), NOW)
    assert (
        verdict.firing and verdict.run_id == "run-1" and verdict.summary == "run run-1 failed: boom"
    )
    assert not judge(failed, facts(run(1), run(2, RunStatus.FAILED)), NOW).firing
    incomplete = rule(Condition.RUN_INCOMPLETE)
    assert judge(incomplete, facts(run(1, RunStatus.INCOMPLETE)), NOW).firing
    assert not judge(incomplete, facts(run(1, RunStatus.FAILED)), NOW).firing


def test_failed_entries_above_a_count_or_a_share():
    count = rule(Condition.FAILED_ENTRIES, failed_above=5)
    assert not judge(count, facts(run(1, failed=5, changes=10)), NOW).firing
    verdict = judge(count, facts(run(1, failed=6, changes=10)), NOW)
    assert verdict.firing and "6 of 10 entries failed (60%)" in verdict.summary
    share = rule(Condition.FAILED_ENTRIES, failed_share_above=0.1)
    assert not judge(share, facts(run(1, failed=10, changes=100)), NOW).firing
    assert judge(share, facts(run(1, failed=11, changes=100)), NOW).firing
    assert not judge(share, facts(run(1, failed=0, changes=0)), NOW).firing
    both = rule(Condition.FAILED_ENTRIES, failed_above=100, failed_share_above=0.5)
    assert judge(both, facts(run(1, failed=6, changes=10)), NOW).firing
    # A failed run (the source broke) says nothing of the entries: the one before is judged.
    broken = run(0, RunStatus.FAILED, changes=0)
    verdict = judge(count, facts(broken, run(1, failed=6, changes=10)), NOW)
    assert verdict.firing and verdict.run_id == "run-1"
    assert judge(count, facts(broken), NOW) is None


def test_freshness_counts_from_the_last_success_or_the_sync_creation():
    fresh = rule(Condition.FRESHNESS, max_age=3 * 3600)
    assert not judge(fresh, facts(last_success_at=NOW - timedelta(hours=2)), NOW).firing
    verdict = judge(fresh, facts(last_success_at=NOW - timedelta(hours=4)), NOW)
    assert verdict.firing and verdict.summary == "the last succeeded run ended 4h ago (allowed: 3h)"
    never = judge(fresh, facts(), NOW)
    assert (
        never.firing and "no run succeeded in the 30d since the sync was created" in never.summary
    )
    # A sync turned off is not expected to run.
    assert judge(fresh, facts(enabled=False), NOW) is None


def test_duration_sees_a_run_still_going_and_the_last_one():
    long = rule(Condition.DURATION, max_duration=600)
    assert judge(long, facts(), NOW) is None
    assert not judge(long, facts(run(1, seconds=500)), NOW).firing
    assert judge(long, facts(run(1, seconds=700)), NOW).firing
    going = RunFact(
        id="live",
        status=RunStatus.IN_PROGRESS,
        read=0,
        changes=0,
        failed=0,
        started_at=NOW - timedelta(minutes=11),
        ended_at=None,
    )
    verdict = judge(long, facts(run(1, seconds=5), live=going), NOW)
    assert verdict.firing and verdict.run_id == "live" and "running for 11m" in verdict.summary
    # A run going on within the limit does not clear what the last one did.
    short = RunFact(**{**going.__dict__, "started_at": NOW - timedelta(minutes=1)})
    assert judge(long, facts(run(1, seconds=700), live=short), NOW).firing


def test_volume_compares_with_the_mean_of_the_runs_before():
    volume = rule(Condition.VOLUME, deviation=0.5, lookback=4)
    history = [run(n, read=100) for n in range(2, 7)]
    assert judge(volume, facts(run(1, read=149), *history), NOW).firing is False
    low = judge(volume, facts(run(1, read=40), *history), NOW)
    assert (
        low.firing and "read 40 rows, -60% against the mean of 100 over the 4 runs" in low.summary
    )
    assert judge(volume, facts(run(1, read=151), *history), NOW).firing
    # Too little history, or a norm of nothing: not judged.
    assert judge(volume, facts(run(1, read=1), *history[:2]), NOW) is None
    assert judge(volume, facts(run(1, read=5), *[run(n, read=0) for n in range(2, 7)]), NOW) is None
    # Failed runs are neither judged nor part of the norm.
    failed = run(0, RunStatus.FAILED, read=0)
    assert not judge(volume, facts(failed, run(1, read=100), *history), NOW).firing


@pytest.mark.parametrize(
    ("condition", "thresholds", "field"),
    [
        (Condition.FRESHNESS, {}, "max_age"),
        (Condition.DURATION, {}, "max_duration"),
        (Condition.VOLUME, {}, "deviation"),
        (Condition.FAILED_ENTRIES, {}, "failed_above"),
        (Condition.RUN_FAILED, {"deviation": 0.2}, "deviation"),
        (Condition.FAILED_ENTRIES, {"failed_above": -1}, "failed_above"),
        (Condition.FAILED_ENTRIES, {"failed_share_above": -0.1}, "failed_share_above"),
        (Condition.VOLUME, {"deviation": 0.5, "lookback": 2}, "lookback"),
    ],
)
def test_thresholds_are_checked_naming_the_field(condition, thresholds, field):
    with pytest.raises(ConfigError) as found:
        check_thresholds(condition, Thresholds(**thresholds))
    assert found.value.field == field


def test_a_notice_reads_well_and_carries_the_incident():
    notice = Notice(
        event=Event.RESOLVED,
        incident_id="i",
        workspace_id="w",
        rule_id="r",
        rule_name="orders failing",
        condition=Condition.RUN_FAILED,
        sync_id="s",
        sync_name="orders",
        summary="run x succeeded",
        run_id="x",
        opened_at=NOW - timedelta(hours=1),
        closed_at=NOW,
        url="https://sync.example.com/w/w/runs/x",
    )
    assert notice.title == "[syncwright] RESOLVED: orders failing on sync orders"
    assert notice.text.splitlines()[2:] == [
        "run x succeeded",
        "Open since 2026-11-23 11:00:00 UTC.",
        "https://sync.example.com/w/w/runs/x",
    ]
    payload = notice.payload()
    assert payload["event"] == "alert.resolved" and payload["closed_at"] == NOW.isoformat()
    assert payload["rule"] == {"id": "r", "name": "orders failing", "condition": "run_failed"}
