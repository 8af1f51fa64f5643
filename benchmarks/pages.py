"""The web UI's pages on a large store: each page fetched over HTTP from the served app
(server-side rendering included), on SQLite and on PostgreSQL (started on loopback).

    python -m benchmarks.pages                       # 10M entries, both backends
    python -m benchmarks.pages --entries 1000000 --backend sqlite

The store is filled as ``benchmarks.report`` fills it (50 syncs, runs of 20k entries over
15 days). A user signs in through the login form; each page is fetched 3 times to warm up,
then ``--repeat`` times; the table shows the median and the 95th percentile in milliseconds.
"""

from __future__ import annotations

import re
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from benchmarks.report import arguments, fill, on_backends, spread
from syncwright.bootstrap.app import App
from syncwright.bootstrap.settings import Settings
from syncwright.domain.access import Role
from syncwright.web.app import create_app

TARGET_MS = 300.0
EMAIL = "bench@example.com"
PASSWORD = "bench-password"


def _serve(sw: App) -> tuple[str, uvicorn.Server, threading.Thread]:
    listener = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(sw), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{listener.getsockname()[1]}", server, thread


def _signed_in(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=True, timeout=60)
    form = client.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token, "no login form"
    client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf": token.group(1)})
    return client


def pages(ws: str, sync_ids: list[str], recent: list[str]) -> dict[str, str]:
    base = f"/w/{ws}"
    return {
        "syncs overview (50 syncs)": f"{base}/syncs",
        "syncs overview, filtered": f"{base}/syncs?status=healthy&search=sync1",
        "a sync's page": f"{base}/syncs/{sync_ids[7]}",
        "synchronisations": f"{base}/runs",
        "synchronisations, by rows read": f"{base}/runs?sort=read&order=desc",
        "a run's page (20k entries)": f"{base}/runs/{recent[0]}",
        "report (last 5 days)": f"{base}/report",
        "report, failed": f"{base}/report?status=failed",
        "report, failed, 15 days, by reference": f"{base}/report?status=failed&days=15&sort=reference&order=asc",
        "report, one sync, extra columns": f"{base}/report?sync={sync_ids[7]}&cols=source_id&cols=endpoint_id&cols=latest",
        "report, reference prefix": f"{base}/report?reference=SKU-1234&prefix=on",
        "an item's history": f"{base}/report/history?reference=SKU-4242",
    }


def bench(settings: Settings, label: str, total: int, repeat: int) -> list[tuple]:
    with App(settings) as sw:
        started = time.perf_counter()
        ws, sync_ids, recent = fill(sw.store, total)
        print(
            f"{label}: {total:,} entries loaded and indexed in"
            f" {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        sw.accounts.create_user(EMAIL, password=PASSWORD)
        sw.accounts.set_member(ws, EMAIL, Role.ADMIN)
        url, server, thread = _serve(sw)
        rows = []
        try:
            client = _signed_in(url)
            next_page = re.search(
                r'href="\?([^"]*cursor=[^"]+)"', client.get(f"/w/{ws}/report").text
            )
            todo = pages(ws, sync_ids, recent)
            if next_page:
                todo["report, next page"] = (
                    f"/w/{ws}/report?{next_page.group(1).replace('&amp;', '&')}"
                )
            for name, path in todo.items():
                for _ in range(3):
                    client.get(path)
                samples = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    # A connection per fetch, as a browser's first load: a kept-alive
                    # connection adds the client's delayed-ACK wait (~40 ms) to small pages.
                    response = client.get(path, headers={"Connection": "close"})
                    samples.append((time.perf_counter() - t0) * 1000)
                    if response.status_code != 200:
                        raise SystemExit(
                            f"{name}: HTTP {response.status_code}\n{response.text[:500]}"
                        )
                median, p95 = spread(samples)
                rows.append((label, name, median, p95, len(response.content)))
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    return rows


def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__ or "", argv)
    print(f"Web UI pages over HTTP, {args.entries:,} entries, {args.repeat} fetches each")

    def run(label: str, url: str) -> None:
        home = Path(tempfile.mkdtemp(prefix="syncwright-pages-"))
        settings = Settings.from_env({"SYNCWRIGHT_HOME": str(home), "SYNCWRIGHT_DATABASE_URL": url})
        show(bench(settings, label, args.entries, args.repeat))

    on_backends(args.backend, run)


def show(rows: list[tuple]) -> None:
    print(f"\n| backend | page | median ms | p95 ms | bytes | under {TARGET_MS:g} ms |")
    print("|---|---|---:|---:|---:|:-:|")
    for label, name, median, p95, size in rows:
        ok = "yes" if p95 < TARGET_MS else "NO"
        print(f"| {label} | {name} | {median:.1f} | {p95:.1f} | {size} | {ok} |", flush=True)


if __name__ == "__main__":
    main()
