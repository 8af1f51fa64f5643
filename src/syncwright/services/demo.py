"""A demo workspace: a product catalogue in SQLite synced to a warehouse table."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEMO_SYNC = "catalogue_to_warehouse"
DEMO_FEED = "catalogue_feed"
#: The demo's sign-in for the web UI (a local demo: not a secret).
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "syncwright-demo"
CATEGORIES = ("shoes", "shirts", "bags", "hats", "socks", "jackets")
COLOURS = ("red", "blue", "black", "white", "green", "yellow")

CONFIG = """\
# The demo: a shop's product catalogue (SQLite) mirrored into a warehouse table (SQLite),
# and published as a CSV feed every hour.
sources:
  shop: {type: sql, url: "sqlite:///shop.db"}
models:
  products:
    source: shop
    query: "SELECT id, sku, name, price, stock, category, updated_at, attributes FROM products"
    primary_key: id
    reference: sku
destinations:
  warehouse: {type: sql, url: "sqlite:///warehouse.db", table: products}
  feed: {type: file_feed, directory: feed, name: products, format: csv}
syncs:
  catalogue_to_warehouse:
    model: products
    destination: warehouse
    mode: mirror
    type: resources_update
    batch_size: 500
    folder: warehouse
    labels: [catalogue]
  catalogue_feed:
    model: products
    destination: feed
    type: feed_export
    schedule: {every: 1h}
    folder: feeds
    labels: [catalogue, csv]
"""


@dataclass(frozen=True, kw_only=True)
class DemoEdit:
    """What the demo changed in the catalogue between its two runs."""

    changed: int
    added: int
    removed: int
    rejected_sku: str


def _product(rng: random.Random, product_id: int, when: datetime) -> tuple[object, ...]:
    category = rng.choice(CATEGORIES)
    colour = rng.choice(COLOURS)
    return (
        product_id,
        f"DEMO-{category[:2].upper()}-{product_id:05d}",
        f"{colour.title()} {category[:-1]} {product_id}",
        round(rng.uniform(5, 250), 2),
        rng.randint(0, 500),
        category,
        when.isoformat(sep=" ", timespec="seconds"),
        f'{{"colour": "{colour}", "size": "{rng.choice("SML")}"}}',
    )


def build_demo(folder: Path, *, rows: int = 3000, seed: int = 7) -> Path:
    """Create the catalogue, an empty warehouse with a NOT NULL rule, and the config file."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("shop.db", "warehouse.db"):
        (folder / name).unlink(missing_ok=True)
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with sqlite3.connect(folder / "shop.db") as shop:
        shop.execute(
            "CREATE TABLE products (id INTEGER PRIMARY KEY, sku TEXT, name TEXT, price REAL,"
            " stock INTEGER, category TEXT, updated_at TEXT, attributes TEXT)"
        )
        shop.executemany(
            "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [_product(rng, i, start + timedelta(minutes=i)) for i in range(1, rows + 1)],
        )
    with sqlite3.connect(folder / "warehouse.db") as warehouse:
        warehouse.execute(
            "CREATE TABLE products (id INTEGER PRIMARY KEY, sku TEXT, name TEXT NOT NULL,"
            " price REAL, stock INTEGER, category TEXT, updated_at TEXT, attributes TEXT)"
        )
    path = folder / "syncwright.yml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def edit_demo(folder: Path, *, seed: int = 11) -> DemoEdit:
    """Change 2% of prices, add 1% new products, remove 0.5%, and blank one name (which the
    warehouse rejects, so one item fails alone)."""
    rng = random.Random(seed)
    now = datetime(2026, 2, 1, tzinfo=UTC).isoformat(sep=" ", timespec="seconds")
    with sqlite3.connect(folder / "shop.db") as shop:
        ids = [r[0] for r in shop.execute("SELECT id FROM products ORDER BY id")]
        top = max(ids)
        picked = rng.sample(ids, k=max(3, len(ids) * 35 // 1000))
        n_change = len(ids) * 2 // 100
        n_remove = len(ids) * 5 // 1000
        to_change, to_remove = picked[:n_change], picked[n_change : n_change + n_remove]
        shop.executemany(
            "UPDATE products SET price = round(price * 1.1, 2), updated_at = ? WHERE id = ?",
            [(now, i) for i in to_change],
        )
        shop.executemany("DELETE FROM products WHERE id = ?", [(i,) for i in to_remove])
        n_add = len(ids) // 100
        shop.executemany(
            "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [_product(rng, top + i, datetime(2026, 2, 1, tzinfo=UTC)) for i in range(1, n_add + 1)],
        )
        rejected = to_change[0]
        shop.execute("UPDATE products SET name = NULL WHERE id = ?", (rejected,))
        sku = shop.execute("SELECT sku FROM products WHERE id = ?", (rejected,)).fetchone()[0]
    return DemoEdit(changed=n_change, added=n_add, removed=n_remove, rejected_sku=sku)
