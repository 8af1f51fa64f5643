"""The benchmarks at toy size, so they cannot rot: every scenario runs once, for syncwright
and for dlt, and what each moved is checked. No timing is asserted (that is the benchmarks'
job, on a quiet machine)."""

from __future__ import annotations

import pytest

from benchmarks import latency, load, pages, report, sync
from syncwright.bootstrap.settings import Settings

pytestmark = pytest.mark.postgres

ROWS = 10_000


def test_sync_benchmark_runs_every_scenario_for_each_tool_and_store(postgres):
    text, measures = sync.run(ROWS, repeat=1, big=2 * ROWS, server=postgres)
    moved = {(m.tool, m.scenario): m.rows for m in measures}
    # 1% changed, 0.5% inserted, 0.1% deleted: syncwright sends all three, dlt cannot see
    # the deletes.
    changed, inserted, deleted = ROWS // 100, ROWS // 200, ROWS // 1000
    # syncwright runs with its embedded store and with PostgreSQL as the store.
    assert moved == {
        **{
            (tool, scenario): n
            for tool in ("syncwright", "syncwright-pg")
            for scenario, n in (("a", ROWS), ("b", changed + inserted + deleted), ("c", 0))
        },
        ("dlt", "a"): ROWS,
        ("dlt", "b"): changed + inserted,
        ("dlt", "c"): 0,
        ("syncwright", "d"): 2 * ROWS,
    }
    for m in measures:
        assert m.seconds > 0 and m.rss_mb > 0
        if m.tool != "dlt":
            assert m.extra["status"] == "succeeded" and m.extra["failed"] == 0
            assert m.extra["entries"] == m.rows  # one report entry per item moved
            assert m.extra["store"] == ("postgresql" if m.tool == "syncwright-pg" else "sqlite")
    assert "| (a) full load, 10,000 rows | dlt |" in text
    assert "| (c) no changes | syncwright-pg |" in text
    assert "(d) full load, big table" in text


def test_report_benchmark_pages_a_small_store(tmp_path):
    rows = report.bench(f"sqlite:///{tmp_path / 'store.db'}", "SQLite", 200_000, repeat=1)
    sizes = {name: size for _, name, _, _, size in rows}
    assert len(sizes) == len(rows) > 10
    assert sizes["newest (5 days)"] == 100 and sizes["status failed"] > 0


def test_pages_benchmark_fetches_every_page(tmp_path):
    settings = Settings.from_env({"SYNCWRIGHT_HOME": str(tmp_path)})
    rows = pages.bench(settings, "SQLite", 100_000, repeat=1)
    sizes = {name: size for _, name, _, _, size in rows}
    assert len(sizes) == len(rows) >= 12 and "report, next page" in sizes
    assert all(size > 1000 for size in sizes.values())  # (bench stops on any answer but 200)


def test_latency_benchmark_measures_triggers_and_ticks(tmp_path):
    latency._source(tmp_path / "source.db")
    triggers = latency.trigger_latency(tmp_path, 3)
    assert len(triggers) == 3 and all(ms >= 0 for ms in triggers)
    lags, runs, failed = latency.scheduling_lag(tmp_path, 3, minutes=0.2, every="3s")
    assert runs >= 3 and failed == 0 and lags and all(lag >= 0 for lag in lags)
    assert "(f2) scheduling lag of 3 interval syncs" in latency.report(triggers, lags, runs, 0, 3)


def test_load_harness_reports_runs_lag_and_no_lost_or_overlapping_run(postgres):
    outcome = load.measure(syncs=6, workers=2, minutes=0.5, every="5s", server=postgres, quiet=True)
    assert outcome.syncs_run == 6 and outcome.runs >= 6
    assert set(outcome.statuses) <= {"succeeded", "scheduled", "queued", "in_progress"}
    assert outcome.lags and all(lag >= 0 for lag in outcome.lags)
    assert (outcome.lost_ticks, outcome.overlaps) == (0, 0)
    assert (outcome.unbalanced, outcome.duplicated) == (0, 0)
    table = load.show(outcome, 6, 2, "5s")
    assert "| lost ticks | 0 |" in table and "per minute" in table
