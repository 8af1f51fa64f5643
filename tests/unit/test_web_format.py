"""How pages show values: durations, times, query strings, the run chart, live progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syncwright.domain.clock import utcnow
from syncwright.domain.counters import Counters
from syncwright.domain.run import Run
from syncwright.domain.statuses import RunMode, RunStatus, Trigger, sync_health
from syncwright.web.format import duration, query, run_chart, when
from syncwright.web.runs import progress


def _run(status: RunStatus, **values) -> Run:
    now = utcnow()
    base = dict(
        id="r1",
        workspace_id="w",
        sync_id="s",
        type="resources_update",
        trigger=Trigger.MANUAL,
        mode=RunMode.INCREMENTAL,
        status=status,
        counters=Counters(),
        created_at=now,
        updated_at=now,
    )
    return Run(**{**base, **values})


def test_durations_read_naturally():
    assert duration(None) == "—"
    assert duration(0.25) == "250 ms"
    assert duration(12.34) == "12.3 s"
    assert duration(125) == "2 min 5 s"
    assert duration(7300) == "2 h 1 min"


def test_times_carry_their_instant_for_the_browser():
    shown = when(datetime(2026, 3, 1, 8, 30, tzinfo=UTC))
    assert 'datetime="2026-03-01T08:30:00+00:00"' in shown and "08:30:00 UTC" in shown
    assert when(None) == "—"


def test_query_strings_keep_lists_and_drop_empty_values():
    params = {"status": ["failed", "pending"], "sync": "", "sort": "id", "cursor": None}
    assert query(params) == "status=failed&status=pending&sort=id"
    assert query(params, sort="reference", order="asc").endswith("sort=reference&order=asc")


def test_progress_of_a_live_run_has_rate_and_time_left():
    started = utcnow() - timedelta(seconds=10)
    live = _run(
        RunStatus.IN_PROGRESS, started_at=started, infos={"progress": {"done": 500, "total": 2000}}
    )
    shown = progress(live)
    assert shown["stage"] == "in_progress" and shown["percent"] == 25
    assert 40 < shown["rate"] <= 50  # 500 items in a little over 10 s
    assert 25 < shown["left"] < 35  # 1500 more at that rate
    assert progress(_run(RunStatus.SUCCEEDED)) is None
    waiting = progress(_run(RunStatus.QUEUED))
    assert waiting["done"] == waiting["total"] == 0 and waiting["rate"] is None


def test_the_chart_has_a_bar_per_finished_run_with_its_figures():
    start = utcnow() - timedelta(minutes=5)
    runs = [
        _run(
            status,
            id=f"r{i}",
            started_at=start + timedelta(minutes=i),
            ended_at=start + timedelta(minutes=i, seconds=i + 1),
            counters=Counters(read=100, added=10 * i),
        )
        for i, status in enumerate([RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SUCCEEDED])
    ]
    runs.append(_run(RunStatus.QUEUED, id="live"))  # not started: no bar
    svg = str(run_chart(runs, "/w/ws"))
    assert svg.startswith("<figure") and svg.count("<rect") == 3 and svg.count("<circle") == 3
    assert 'class="bar s-failed"' in svg and "20 rows changed" in svg
    assert "longest 3.0 s" in svg and "<script" not in svg
    # Each bar leads to its run; the time axis carries instants for the viewer's zone; what
    # the marks mean is said under the chart, not inside it.
    assert svg.count('<a href="/w/ws/runs/') == 3 and 'href="/w/ws/runs/r1"' in svg
    assert svg.count("data-local-time=") == 3 and runs[0].when.isoformat() in svg
    assert "legend" not in svg and svg.index("<figcaption>") > svg.index("</svg>")
    assert str(run_chart([])) == ""


def test_sync_health():
    assert sync_health(True, None) == "pending"
    assert sync_health(False, RunStatus.SUCCEEDED) == "disabled"
    assert sync_health(True, RunStatus.SUCCEEDED) == "healthy"
    assert sync_health(True, RunStatus.SUCCEEDED, failed_items=2) == "warning"
    assert sync_health(True, RunStatus.INCOMPLETE) == "warning"
    assert sync_health(True, RunStatus.ABORTED) == "warning"  # cancelled: not red
    assert sync_health(True, RunStatus.FAILED) == "failed"
    assert sync_health(False, RunStatus.IN_PROGRESS) == "in_progress"
