"""The benchmark's products table, built deterministically in a SQLite file, and the edits
between two runs (1% of rows changed, 0.5% inserted, 0.1% deleted)."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

CATEGORIES = ("shoes", "shirts", "bags", "hats", "watches", "toys", "books", "garden")
COLOURS = ("red", "blue", "green", "black", "white", "grey", "navy", "olive")
START = datetime(2026, 1, 1)
CHUNK = 50_000

SCHEMA = (
    "CREATE TABLE products (id INTEGER PRIMARY KEY, sku TEXT NOT NULL, name TEXT NOT NULL,"
    " price REAL NOT NULL, stock INTEGER NOT NULL, category TEXT NOT NULL,"
    " updated_at TEXT NOT NULL, attributes TEXT NOT NULL)"
)


def _row(rng: random.Random, item: int, when: datetime) -> tuple[object, ...]:
    attributes = json.dumps(
        {
            "colour": rng.choice(COLOURS),
            "size": rng.choice(("XS", "S", "M", "L", "XL")),
            "weight_g": rng.randint(50, 5000),
            "tags": [f"t{rng.randint(1, 500)}" for _ in range(3)],
            "origin": rng.choice(("FR", "DE", "IT", "ES", "PT")),
        },
        separators=(",", ":"),
    )
    return (
        item,
        f"SKU-{item:08d}",
        f"Product {item} {rng.choice(COLOURS)}",
        round(rng.uniform(1, 500), 2),
        rng.randint(0, 1000),
        rng.choice(CATEGORIES),
        when.strftime("%Y-%m-%d %H:%M:%S"),
        attributes,
    )


def build(path: Path, rows: int, *, seed: int = 42) -> Path:
    """A products table of ``rows`` rows; the same seed gives the same file."""
    path.unlink(missing_ok=True)
    rng = random.Random(seed)
    with sqlite3.connect(path) as db:
        db.execute(SCHEMA)
        for start in range(1, rows + 1, CHUNK):
            db.executemany(
                "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _row(rng, i, START + timedelta(seconds=i))
                    for i in range(start, min(rows, start + CHUNK - 1) + 1)
                ),
            )
    return path


def edit(path: Path, *, seed: int = 7) -> dict[str, int]:
    """Change 1% of the rows (newer ``updated_at``), insert 0.5% new ones, delete 0.1%."""
    rng = random.Random(seed)
    with sqlite3.connect(path) as db:
        total, top = db.execute("SELECT count(*), max(id) FROM products").fetchone()
        ids = rng.sample(range(1, top + 1), total // 100 + total // 1000)
        changed, deleted = ids[: total // 100], ids[total // 100 :]
        later = datetime(2026, 6, 1)
        db.executemany(
            "UPDATE products SET price = round(price * 1.1, 2), stock = stock + 1,"
            " updated_at = ? WHERE id = ?",
            ((later.strftime("%Y-%m-%d %H:%M:%S"), i) for i in changed),
        )
        added = total // 200
        db.executemany(
            "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (_row(rng, top + n, later) for n in range(1, added + 1)),
        )
        db.executemany("DELETE FROM products WHERE id = ?", ((i,) for i in deleted))
    return {"changed": len(changed), "inserted": added, "deleted": len(deleted)}
