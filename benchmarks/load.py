"""Load: many syncs on interval schedules, shared by several `syncwright worker` processes on
one PostgreSQL, for a while; then what the store says about it.

    python -m benchmarks.load --syncs 500 --workers 3 --minutes 15 --every 2m

Every sync reads the same catalogue (SQLite, edited every few seconds so runs carry changes)
and writes to its own path of an HTTP API on 127.0.0.1. At the end the workers are stopped
gracefully and the store is read back:

- scheduling lag: how long after its planned time each scheduled run started;
- runs per minute, and runs that did not succeed (with their errors);
- lost ticks: consecutive planned times of a sync more than one interval apart;
- overlaps: a run of a sync that started before the previous one ended;
- accounting: runs whose counters do not add up, entries recorded twice.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from benchmarks.report import spread
from syncwright.domain.counters import Counters
from syncwright.domain.triggers import parse_every
from syncwright.storage.database import create_store_engine
from syncwright.storage.tables import entries, runs
from tests.support.catalogue import Catalogue
from tests.support.chaos import Shop
from tests.support.postgres import PostgresServer

CLI = [sys.executable, "-m", "syncwright"]


@dataclass
class Outcome:
    minutes: float
    runs: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    lags: list[float] = field(default_factory=list)
    lost_ticks: int = 0
    overlaps: int = 0
    unbalanced: int = 0
    duplicated: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    syncs_run: int = 0

    @property
    def per_minute(self) -> float:
        return self.runs / self.minutes if self.minutes else 0.0


def config(syncs: int, every: str, shop_db: Path, url: str) -> str:
    lines = [
        "sources: {shop: {type: sql, url: " + f'"sqlite:///{shop_db}"' + "}}",
        "models: {products: {source: shop, query: 'SELECT * FROM products', primary_key: id,"
        " reference: sku}}",
        "destinations:",
        *(f"  d{i}: {{type: http, url: '{url}/{i}', batch_size: 50}}" for i in range(syncs)),
        "syncs:",
        *(
            f"  s{i}: {{model: products, destination: d{i}, mode: mirror,"
            f" schedule: {{every: {every}}}}}"
            for i in range(syncs)
        ),
    ]
    return "\n".join(lines) + "\n"


def _edit_now_and_then(catalogue: Catalogue, rows: int, stop: threading.Event) -> None:
    rng = random.Random(7)
    while not stop.wait(5.0):
        picked = rng.sample(range(1, rows + 1), 3)
        catalogue.put(*({"id": i, "price": rng.uniform(1, 99)} for i in picked))


def measure(
    *,
    syncs: int,
    workers: int,
    minutes: float,
    every: str,
    rows: int = 50,
    concurrency: int = 4,
    server: PostgresServer | None = None,
    quiet: bool = False,
) -> Outcome:
    own_server = server is None
    server = server or PostgresServer().start()
    folder = Path(tempfile.mkdtemp(prefix="syncwright-load-"))
    shop = Shop(delay=0.0)
    processes: list[subprocess.Popen[str]] = []
    stop_editing = threading.Event()
    try:
        url = server.create_database(f"load_{os.getpid()}_{int(time.time())}")
        catalogue = Catalogue(folder / "shop.db")
        catalogue.put(*({"id": i} for i in range(1, rows + 1)))
        (folder / "sw.yml").write_text(config(syncs, every, folder / "shop.db", shop.url))
        env = {
            **os.environ,
            "SYNCWRIGHT_DATABASE_URL": url,
            "SYNCWRIGHT_WORKER_CONCURRENCY": str(concurrency),
        }
        with open(folder / "workers.log", "a") as log:
            for n in range(workers):
                process = subprocess.Popen(
                    [*CLI, "worker"],
                    cwd=folder,
                    env={**env, "SYNCWRIGHT_HOME": str(folder / f"w{n}")},
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
                processes.append(process)
                assert "engine running" in (process.stdout.readline() if process.stdout else "")
        applied = subprocess.run(
            [*CLI, "apply", "-f", "sw.yml"],
            cwd=folder,
            env={**env, "SYNCWRIGHT_HOME": str(folder / "w0")},
            capture_output=True,
            text=True,
        )
        if applied.returncode != 0:
            raise RuntimeError(applied.stderr)
        editor = threading.Thread(
            target=_edit_now_and_then, args=(catalogue, rows, stop_editing), daemon=True
        )
        editor.start()
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < minutes * 60:
            time.sleep(min(60.0, minutes * 60 - elapsed))
            if not quiet:
                done = (time.monotonic() - started) / 60
                print(f"  {done:4.1f} min: {shop.requests:,} requests so far", flush=True)
        stop_editing.set()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=120)
        return analyse(url, minutes, parse_every(every))
    finally:
        stop_editing.set()
        for process in processes:
            if process.poll() is None:
                process.kill()
        shop.close()
        if own_server:
            server.stop()


def analyse(url: str, minutes: float, every: float) -> Outcome:
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(runs)).mappings().all()
            duplicated = conn.execute(
                sa.select(sa.func.count()).select_from(
                    sa.select(entries.c.run_no, entries.c.item_key)
                    .group_by(entries.c.run_no, entries.c.item_key)
                    .having(sa.func.count() > 1)
                    .subquery()
                )
            ).scalar_one()
    finally:
        engine.dispose()
    outcome = Outcome(minutes=minutes, duplicated=int(duplicated))
    per_sync: dict[str, list] = defaultdict(list)
    for run in rows:
        outcome.statuses[run["status"]] += 1
        if run["ended_at"] is not None:
            outcome.runs += 1
        if run["status"] not in ("succeeded", "queued", "scheduled", "in_progress"):
            outcome.errors[str((run["infos"] or {}).get("error", run["status"]))[:80]] += 1
        if Counters.from_row(run).problems():
            outcome.unbalanced += 1
        if run["trigger"] == "schedule" and run["started_at"] and run["scheduled_for"]:
            outcome.lags.append((run["started_at"] - run["scheduled_for"]).total_seconds())
        per_sync[run["sync_id"]].append(run)
    outcome.syncs_run = len(per_sync)
    for sync_runs in per_sync.values():
        planned = sorted(r["scheduled_for"] for r in sync_runs if r["trigger"] == "schedule")
        outcome.lost_ticks += sum(
            max(0, round((b - a).total_seconds() / every) - 1) for a, b in zip(planned, planned[1:])
        )
        started = sorted((r for r in sync_runs if r["started_at"]), key=lambda r: r["started_at"])
        outcome.overlaps += sum(
            1
            for a, b in zip(started, started[1:])
            if a["ended_at"] is None or b["started_at"] < a["ended_at"]
        )
    return outcome


def show(outcome: Outcome, syncs: int, workers: int, every: str) -> str:
    median, p95 = spread(outcome.lags) if outcome.lags else (0.0, 0.0)
    worst = max(outcome.lags, default=0.0)
    lines = [
        f"Load: {syncs} syncs every {every}, {workers} workers, {outcome.minutes:g} min",
        "",
        "| measure | value |",
        "|---|---|",
        f"| runs ended | {outcome.runs:,} ({outcome.per_minute:.1f} per minute) |",
        f"| syncs that ran | {outcome.syncs_run} of {syncs} |",
        f"| statuses | {', '.join(f'{k} {v}' for k, v in sorted(outcome.statuses.items()))} |",
        f"| scheduling lag, median / p95 / max | {median:.2f} / {p95:.2f} / {worst:.2f} s |",
        f"| lost ticks | {outcome.lost_ticks} |",
        f"| overlapping runs of a sync | {outcome.overlaps} |",
        f"| runs whose counters do not add up | {outcome.unbalanced} |",
        f"| entries recorded twice | {outcome.duplicated} |",
    ]
    for error, count in outcome.errors.most_common(5):
        lines.append(f"| error ({count}) | {error} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--syncs", type=int, default=500)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--every", default="2m")
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4, help="runs at once per worker")
    args = parser.parse_args(argv)
    outcome = measure(
        syncs=args.syncs,
        workers=args.workers,
        minutes=args.minutes,
        every=args.every,
        rows=args.rows,
        concurrency=args.concurrency,
    )
    print(show(outcome, args.syncs, args.workers, args.every))


if __name__ == "__main__":
    main()
