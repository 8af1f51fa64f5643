"""How fast runs start, on the embedded default (SQLite store, engine in this process).

    python -m benchmarks.latency                     # 20 manual triggers, 200 syncs for 3 min
    python -m benchmarks.latency --syncs 50 --minutes 1

(f1) manual trigger to ``querying``: a run's ``started_at`` minus its ``created_at``, as
     recorded by the store, over ``--triggers`` runs of a small sync, one after the other.
(f2) scheduling lag: ``--syncs`` syncs scheduled every minute run for ``--minutes``; the lag
     of each scheduled run is its ``started_at`` minus its planned time (``scheduled_for``).
dlt has no scheduler or trigger to compare with; the targets are absolute.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

TRIGGER_TARGET_MS = 300.0
LAG_TARGET_S = 5.0


def _app(home: Path):  # type: ignore[no-untyped-def]
    from syncwright.bootstrap.app import App, EngineRole
    from syncwright.bootstrap.settings import Settings

    settings = Settings.from_env({**os.environ, "SYNCWRIGHT_HOME": str(home)})
    return App(settings, role=EngineRole.EXECUTE)


def _source(path: Path, rows: int = 10) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        db.executemany("INSERT INTO items VALUES (?, ?)", ((i, f"item {i}") for i in range(rows)))


def _config(root: Path, syncs: int, schedule: str) -> str:
    lines = [
        f'sources: {{src: {{type: sql, url: "sqlite:///{root / "source.db"}"}}}}',
        'models: {items: {source: src, query: "SELECT * FROM items", primary_key: id}}',
        "destinations:",
        *(
            f'  d{n}: {{type: sql, url: "sqlite:///{root / "dest" / f"d{n}.db"}", table: items}}'
            for n in range(syncs)
        ),
        "syncs:",
        *(f"  s{n}: {{model: items, destination: d{n}{schedule}}}" for n in range(syncs)),
    ]
    return "\n".join(lines) + "\n"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def trigger_latency(root: Path, triggers: int) -> list[float]:
    from syncwright.services.config_file import parse_config

    (root / "dest").mkdir(parents=True, exist_ok=True)
    with _app(root / "home-trigger") as app:
        app.configs.apply(parse_config(_config(root, 1, "")), base_dir=root)
        app.runs.wait(app.runs.trigger("s0").id, poll=0.02)  # warm: tables created, imports done
        latencies = []
        for _ in range(triggers):
            run = app.runs.wait(app.runs.trigger("s0").id, poll=0.02)
            assert run.started_at is not None, run
            latencies.append((run.started_at - run.created_at).total_seconds() * 1000)
        return latencies


def scheduling_lag(
    root: Path, syncs: int, minutes: float, every: str = "1m"
) -> tuple[list[float], int, int]:
    from syncwright.domain.statuses import RunStatus, Trigger
    from syncwright.services.config_file import parse_config

    (root / "dest").mkdir(parents=True, exist_ok=True)
    with _app(root / "home-lag") as app:
        app.configs.apply(
            parse_config(_config(root, syncs, f", schedule: {{every: {every}}}")), base_dir=root
        )
        began = time.time()
        time.sleep(minutes * 60)
        runs = [
            r
            for r in app.store.runs.list(app.workspace_id, limit=100_000)
            if r.trigger is Trigger.SCHEDULE and r.started_at is not None
        ]
        lags = [
            (r.started_at - r.scheduled_for).total_seconds()
            for r in runs
            if r.scheduled_for is not None and r.scheduled_for.timestamp() >= began
        ]
        failed = sum(1 for r in runs if r.status is RunStatus.FAILED)
        return lags, len(runs), failed


def report(triggers: list[float], lags: list[float], runs: int, failed: int, syncs: int) -> str:
    lines = [
        "| measure | median | p95 | samples | target | met |",
        "|---|---:|---:|---:|---:|:-:|",
    ]
    if triggers:
        median = statistics.median(triggers)
        lines.append(
            f"| (f1) manual trigger to querying, ms | {median:.0f} |"
            f" {_percentile(triggers, 0.95):.0f} | {len(triggers)} | median < {TRIGGER_TARGET_MS:g}"
            f" | {'yes' if median < TRIGGER_TARGET_MS else 'NO'} |"
        )
    if lags:
        p95 = _percentile(lags, 0.95)
        lines.append(
            f"| (f2) scheduling lag of {syncs} interval syncs, s | {statistics.median(lags):.2f} |"
            f" {p95:.2f} | {len(lags)} runs ({failed} failed) | p95 < {LAG_TARGET_S:g}"
            f" | {'yes' if p95 < LAG_TARGET_S else 'NO'} |"
        )
    return "\n".join(lines)


def run(triggers: int, syncs: int, minutes: float, every: str = "1m") -> str:
    root = Path(tempfile.mkdtemp(prefix="syncwright-latency-"))
    try:
        _source(root / "source.db")
        found = trigger_latency(root, triggers) if triggers else []
        lags, runs, failed = scheduling_lag(root, syncs, minutes, every) if syncs else ([], 0, 0)
        return report(found, lags, runs, failed, syncs)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--triggers", type=int, default=20)
    parser.add_argument("--syncs", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args(argv)
    print(run(args.triggers, args.syncs, args.minutes))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
