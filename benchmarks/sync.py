"""syncwright against dlt on the same products table, SQLite into PostgreSQL.

    python -m benchmarks.sync                        # 1M rows, 3 repetitions, scenarios a b c d
    python -m benchmarks.sync --rows 100000 --repeat 1 --big 0

Scenarios (each tool in its own process per measured run, alternating which goes first):
  (a) full load of the table, upsert on ``id`` (syncwright records one report entry per row);
  (b) incremental run after 1% of rows changed, 0.5% inserted and 0.1% deleted (syncwright
      mirrors, so it deletes too; dlt's ``updated_at`` cursor cannot see deletes);
  (c) a run with no changes;
  (d) syncwright alone on a table of ``--big`` rows (10M by default): peak memory.

(a)-(c) run twice for syncwright: with its embedded store (SQLite, ``syncwright``) and with
PostgreSQL as the store (``syncwright-pg``: ``SYNCWRIGHT_DATABASE_URL``, the scale-out setup,
a database of its own on the same server as the destination).

dlt runs as its documentation shows: the ``sql_database`` source with the pyarrow backend,
``write_disposition="merge"`` on the primary key and ``dlt.sources.incremental("updated_at")``.
syncwright runs with its embedded store (SQLite) and its engine in the measuring process, as a
``mirror`` sync with ``detection: cursor`` on ``updated_at`` (like dlt's incremental), which
also reads the keys of every row to find deleted ones.
Wall seconds are measured inside each process around the run (imports and set-up excluded);
peak RSS is the whole process's, from the kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import dataset

TOOLS = ("syncwright", "syncwright-pg", "dlt")
#: The environment variable a syncwright child takes its store's URL from (none: embedded).
STORE_URL = "BENCH_STORE_URL"
STEPS = {"a": "full", "b": "incremental", "c": "nochange"}
BATCH_SIZE = 10_000


# -- the measured processes -----------------------------------------------------------------
def _syncwright(step: str, work: Path, source: Path, dest_url: str) -> dict[str, Any]:
    os.environ["SYNCWRIGHT_HOME"] = str(work / "home")
    if os.environ.get(STORE_URL):
        os.environ["SYNCWRIGHT_DATABASE_URL"] = os.environ[STORE_URL]
    from syncwright.bootstrap.app import App, EngineRole
    from syncwright.bootstrap.settings import Settings
    from syncwright.services.config_file import parse_config

    with App(Settings.from_env(), role=EngineRole.EXECUTE) as app:
        if step == "full":
            text = f"""
sources: {{shop: {{type: sql, url: "sqlite:///{source}"}}}}
models: {{products: {{source: shop, query: "SELECT * FROM products", primary_key: id,
  reference: sku, cursor: updated_at}}}}
destinations: {{warehouse: {{type: sql, url: "{dest_url}", table: products}}}}
syncs: {{products: {{model: products, destination: warehouse, mode: mirror,
  detection: cursor, batch_size: {BATCH_SIZE}}}}}
"""
            app.configs.apply(parse_config(text), base_dir=work)
        started = time.perf_counter()
        run = app.runs.wait(app.runs.trigger("products").id, poll=0.02)
        seconds = time.perf_counter() - started
        c = run.counters
        return {
            "seconds": seconds,
            "rows": c.added + c.changed + c.removed,
            "status": run.status.value,
            "entries": c.ok + c.failed + c.sent + c.pending,
            "failed": c.failed,
            "stages": run.infos.get("timings", {}),
            "store": app.store.dialect,
        }


def _dlt(step: str, work: Path, source: Path, dest_url: str) -> dict[str, Any]:
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    import dlt
    from dlt.sources.sql_database import sql_database

    tables = sql_database(
        credentials=f"sqlite:///{source}", table_names=["products"], backend="pyarrow"
    )
    tables.products.apply_hints(
        primary_key="id",
        write_disposition="merge",
        incremental=dlt.sources.incremental("updated_at"),
    )
    pipeline = dlt.pipeline(
        pipeline_name="products",
        # dlt insists on a password; the loopback server trusts, so any will do.
        destination=dlt.destinations.postgres(
            credentials=dest_url.replace("postgres@", "postgres:x@")
        ),
        dataset_name="products_dlt",
        pipelines_dir=str(work / "dlt"),
    )
    started = time.perf_counter()
    pipeline.run(tables)
    seconds = time.perf_counter() - started
    counts = pipeline.last_trace.last_normalize_info.row_counts if pipeline.last_trace else {}
    return {"seconds": seconds, "rows": int(counts.get("products", 0)), "status": "ok"}


def _child(argv: list[str]) -> None:
    tool, step, work, source, dest_url = argv
    run = _dlt if tool == "dlt" else _syncwright
    result = run(step, Path(work), Path(source), dest_url)
    result["rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("RESULT " + json.dumps(result), flush=True)


@dataclass
class Measure:
    tool: str
    scenario: str
    seconds: float
    rows: int
    rss_mb: float
    extra: dict[str, Any]


def measure(
    tool: str,
    scenario: str,
    work: Path,
    source: Path,
    dest_url: str,
    store_url: str | None = None,
) -> Measure:
    """Run one step of one tool in a fresh process, which reports its own peak RSS."""
    # The embedded store unless told otherwise, whatever the shell says.
    env = {k: v for k, v in os.environ.items() if k not in (STORE_URL, "SYNCWRIGHT_DATABASE_URL")}
    if store_url:
        env[STORE_URL] = store_url
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.sync", "--child", tool, STEPS.get(scenario, "full")]
        + [str(work), str(source), dest_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    out, err = proc.communicate()
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{tool} {scenario} failed ({proc.returncode}):\n{err[-3000:]}")
    result = json.loads(lines[-1][len("RESULT ") :])
    return Measure(
        tool=tool,
        scenario=scenario,
        seconds=result.pop("seconds"),
        rows=result.pop("rows"),
        rss_mb=result.pop("rss_kb") / 1024,
        extra=result,
    )


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def compare(server: Any, base: Path, root: Path, repeat: int, scenarios: str) -> list[Measure]:
    """Alternate the tools on each scenario, ``repeat`` times, each on a fresh copy of the
    table and a fresh destination database."""
    results: list[Measure] = []
    for rep in range(1, repeat + 1):
        source = root / f"source-{rep}.db"
        shutil.copy(base, source)
        turn = (rep - 1) % len(TOOLS)
        order = TOOLS[turn:] + TOOLS[:turn]  # each tool takes each place in turn
        works = {tool: root / f"{tool}-{rep}" for tool in TOOLS}
        urls = {tool: server.create_database(_fresh(tool.replace("-", "_"))) for tool in TOOLS}
        stores = {"syncwright-pg": server.create_database(_fresh("store"))}
        for scenario in "abc":
            if scenario == "b":
                edits = dataset.edit(source)
                print(f"  edits: {edits}", file=sys.stderr)
            for tool in order:
                works[tool].mkdir(exist_ok=True)
                found = measure(tool, scenario, works[tool], source, urls[tool], stores.get(tool))
                print(
                    f"  rep {rep} ({scenario}) {tool}: {found.seconds:.2f} s, {found.rows:,} rows,"
                    f" {found.rss_mb:.0f} MB {found.extra}",
                    file=sys.stderr,
                    flush=True,
                )
                if scenario in scenarios:
                    results.append(found)
        source.unlink()
        for work in works.values():
            shutil.rmtree(work, ignore_errors=True)
    return results


def table(results: list[Measure], rows: int) -> list[str]:
    lines = [
        "| scenario | tool | wall s (median) | rows | rows/s | peak RSS MB | time / dlt's"
        " | time / embedded store's |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    names = {
        "a": f"(a) full load, {rows:,} rows",
        "b": "(b) incremental: 1% changed, 0.5% new, 0.1% deleted",
        "c": "(c) no changes",
        "d": "(d) full load, big table (syncwright only)",
    }
    for scenario in "abcd":
        found = {
            tool: [m for m in results if m.tool == tool and m.scenario == scenario]
            for tool in TOOLS
        }
        seconds = {tool: _median([m.seconds for m in ms]) for tool, ms in found.items() if ms}
        for tool, ms in found.items():
            if not ms:
                continue
            count = int(_median([m.rows for m in ms]))
            rate = count / seconds[tool] if seconds[tool] else 0
            rss = _median([m.rss_mb for m in ms])
            to_dlt = (
                f"{seconds[tool] / seconds['dlt']:.2f}"
                if tool != "dlt" and seconds.get("dlt")
                else ""
            )
            to_embedded = (
                f"{seconds[tool] / seconds['syncwright']:.2f}"
                if tool == "syncwright-pg" and seconds.get("syncwright")
                else ""
            )
            lines.append(
                f"| {names[scenario]} | {tool} | {seconds[tool]:.2f} | {count:,} | {rate:,.0f} |"
                f" {rss:.0f} | {to_dlt} | {to_embedded} |"
            )
    return lines


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _child(argv[1:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big", type=int, default=10_000_000, help="rows for (d); 0 skips it")
    parser.add_argument("--scenarios", default="abc", help="which of a, b, c to report")
    args = parser.parse_args(argv)
    print(run(args.rows, args.repeat, args.big, args.scenarios)[0])


def run(
    rows: int, repeat: int, big: int, scenarios: str = "abc", server: Any = None
) -> tuple[str, list[Measure]]:
    """Build the table, start PostgreSQL (unless given one), compare; the printed table and
    every measure."""
    from tests.support.postgres import PostgresServer

    root = Path(tempfile.mkdtemp(prefix="syncwright-bench-"))
    own = server is None
    server = PostgresServer().start() if own else server
    try:
        started = time.perf_counter()
        base = dataset.build(root / "products.db", rows)
        print(f"built {rows:,} rows in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        results = compare(server, base, root, repeat, scenarios)
        if big:
            base.unlink()
            started = time.perf_counter()
            base = dataset.build(root / "products.db", big)
            print(f"built {big:,} rows in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            work = root / "big"
            work.mkdir()
            found = measure("syncwright", "d", work, base, server.create_database(_fresh("big")))
            print(f"  (d) {found.seconds:.1f} s, {found.rss_mb:.0f} MB", file=sys.stderr)
            results.append(found)
        lines = [
            f"syncwright against dlt: SQLite -> PostgreSQL, medians of {repeat} runs",
            "",
            *table(results, rows),
        ]
        return "\n".join(lines), results
    finally:
        if own:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _fresh(name: str) -> str:
    """A database name not used before on this server (a test may share one server)."""
    return f"{name}_{os.getpid()}_{time.monotonic_ns()}"


if __name__ == "__main__":
    main()
