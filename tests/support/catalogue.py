"""A product catalogue in a real SQLite file, and helpers to configure and run syncs over it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from syncwright.bootstrap.app import App
from syncwright.domain.run import Run
from syncwright.domain.statuses import RunMode, RunStatus, Trigger
from syncwright.services.config_file import parse_config


class Catalogue:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        with sqlite3.connect(path) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY, sku TEXT, name TEXT,"
                " price REAL, updated_at INTEGER)"
            )

    def put(self, *rows: dict[str, Any]) -> None:
        with sqlite3.connect(self.path) as db:
            db.executemany(
                "INSERT OR REPLACE INTO products (id, sku, name, price, updated_at)"
                " VALUES (:id, :sku, :name, :price, :updated_at)",
                [
                    {
                        "sku": f"SKU-{r['id']}",
                        "name": f"item {r['id']}",
                        "price": 1.0,
                        "updated_at": 1,
                        **r,
                    }
                    for r in rows
                ],
            )

    def remove(self, *ids: int) -> None:
        with sqlite3.connect(self.path) as db:
            db.executemany("DELETE FROM products WHERE id = ?", [(i,) for i in ids])

    def rows(self) -> dict[int, dict[str, Any]]:
        with sqlite3.connect(self.path) as db:
            db.row_factory = sqlite3.Row
            return {r["id"]: dict(r) for r in db.execute("SELECT * FROM products")}


def table_rows(url: str, table: str = "products") -> dict[Any, dict[str, Any]]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                return {}
            return {
                r["id"]: dict(r) for r in conn.execute(sa.text(f"SELECT * FROM {table}")).mappings()
            }
    finally:
        engine.dispose()


def configure(
    app: App,
    name: str,
    *,
    source_url: str,
    dest_url: str,
    base_dir: Path,
    query: str = "SELECT * FROM products",
    model: str = "",
    sync: str = "",
    destination: str = "",
    check_connections: bool = True,
) -> str:
    table = "" if "table:" in destination else ", table: products"
    text = f"""
sources: {{{name}_src: {{type: sql, url: "{source_url}"}}}}
models:
  {name}_model: {{source: {name}_src, query: "{query}", primary_key: id, reference: sku {model}}}
destinations:
  {name}_dst: {{type: sql, url: "{dest_url}"{table} {destination}}}
syncs:
  {name}: {{model: {name}_model, destination: {name}_dst {sync}}}
"""
    app.configs.apply(parse_config(text), base_dir=base_dir, check_connections=check_connections)
    return name


def run_sync(app: App, name: str, *, full: bool = False, timeout: float = 120) -> Run:
    return app.runs.wait(app.runs.trigger(name, full=full).id, timeout=timeout, poll=0.05)


def bare_run(
    app: App,
    name: str,
    *,
    trigger: Trigger = Trigger.MANUAL,
    status: RunStatus = RunStatus.QUEUED,
) -> Run:
    """A run of sync ``name`` recorded in the store without going through the services
    (so nothing admits it): for tests that stage runs of the past or runs waiting."""
    sync = app.store.config.sync_by_name(app.workspace_id, name)
    return app.store.runs.create(
        workspace_id=app.workspace_id,
        sync_id=sync.id,
        type=sync.type,
        trigger=trigger,
        mode=RunMode.INCREMENTAL,
        status=status,
    )
