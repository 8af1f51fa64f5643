"""Prometheus metrics, read from the store at each scrape: the same figures from every
process, whichever worker did the work (workers need no HTTP of their own)."""

from __future__ import annotations

from datetime import timedelta
from typing import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from syncwright.domain.clock import utcnow
from syncwright.storage.metrics_repo import Histogram, MetricsRepository

DURATION_BOUNDS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)
LAG_BOUNDS = (0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0)
SYNC = ["workspace", "sync"]


def _histogram(name: str, doc: str, rows: list[Histogram], bounds: tuple[float, ...]) -> Metric:
    family = HistogramMetricFamily(name, doc, labels=SYNC)
    for row in rows:
        buckets = [(f"{b:g}", float(n)) for b, n in zip(bounds, row.at_most)]
        family.add_metric(
            [row.workspace, row.sync], [*buckets, ("+Inf", float(row.count))], row.total
        )
    return family


class StoreCollector(Collector):
    def __init__(self, repo: MetricsRepository, *, live_after: float) -> None:
        self.repo = repo
        self.live_after = live_after

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "syncwright_runs", "Runs the store holds, by sync and status.", labels=[*SYNC, "status"]
        )
        for workspace, sync, status, count in self.repo.runs_by_status():
            runs.add_metric([workspace, sync, status], count)
        yield runs

        items = CounterMetricFamily(
            "syncwright_items", "Items delivered, by sync and outcome.", labels=[*SYNC, "status"]
        )
        retries = CounterMetricFamily(
            "syncwright_item_retries",
            "Deliveries of an item that an earlier attempt left to try again.",
            labels=SYNC,
        )
        for workspace, sync, outcomes, retried in self.repo.items():
            for status, count in outcomes.items():
                items.add_metric([workspace, sync, status], count)
            retries.add_metric([workspace, sync], retried)
        yield items
        yield retries

        yield _histogram(
            "syncwright_run_duration_seconds",
            "Seconds from the start to the end of a run.",
            self.repo.durations(DURATION_BOUNDS),
            DURATION_BOUNDS,
        )
        yield _histogram(
            "syncwright_scheduling_lag_seconds",
            "Seconds from a scheduled run's planned time to its start.",
            self.repo.scheduling_lags(LAG_BOUNDS),
            LAG_BOUNDS,
        )

        live = self.repo.live_runs()
        by_status = GaugeMetricFamily(
            "syncwright_runs_live",
            "Live runs by status (queued ones as waiting for capacity or admitted).",
            labels=["status"],
        )
        for status in ("waiting", "admitted", "querying", "preparing", "in_progress"):
            by_status.add_metric([status], live.get(status, 0))
        yield by_status
        yield GaugeMetricFamily(
            "syncwright_queue_depth",
            "Runs queued and not started (waiting for capacity or admitted).",
            value=live.get("waiting", 0) + live.get("admitted", 0),
        )

        beats = GaugeMetricFamily(
            "syncwright_worker_heartbeat_timestamp_seconds",
            "When each engine process last beat (Unix time).",
            labels=["executor", "runner", "version"],
        )
        cutoff = utcnow() - timedelta(seconds=self.live_after)
        alive = 0
        for worker in self.repo.workers():
            beats.add_metric(
                [worker.executor_id, worker.runner, worker.application_version or ""],
                worker.heartbeat_at.timestamp(),
            )
            alive += worker.heartbeat_at >= cutoff
        yield beats
        yield GaugeMetricFamily(
            "syncwright_workers_live",
            "Engine processes that beat within the take-over delay.",
            value=alive,
        )

        open_alerts = GaugeMetricFamily(
            "syncwright_alerts_open",
            "Alerts open now, by rule and sync.",
            labels=["workspace", "rule", "sync"],
        )
        for workspace, rule, sync, count in self.repo.open_alerts():
            open_alerts.add_metric([workspace, rule, sync], count)
        yield open_alerts
        notices = CounterMetricFamily(
            "syncwright_alert_notices",
            "Alert notices by channel and status: delivered, pending or undelivered.",
            labels=["workspace", "channel", "status"],
        )
        for workspace, channel, status, count in self.repo.notices():
            notices.add_metric([workspace, channel, status], count)
        yield notices


def exposition(repo: MetricsRepository, *, live_after: float) -> bytes:
    """The metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(repo, live_after=live_after))
    return generate_latest(registry)
