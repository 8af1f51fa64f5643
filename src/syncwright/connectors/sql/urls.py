"""Database URLs shown without their password, and SQLite paths made absolute."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url


def safe_url(url: str) -> str:
    """The URL with its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable url>"


def resolve_sqlite_path(url: str, base_dir: Path) -> str:
    """Make a relative SQLite file path absolute against ``base_dir``."""
    try:
        parsed = make_url(url)
    except Exception:
        return url
    database = parsed.database
    if not parsed.drivername.startswith("sqlite") or not database or database == ":memory:":
        return url
    if Path(database).is_absolute():
        return url
    resolved = parsed.set(database=str((base_dir / database).resolve()))
    return resolved.render_as_string(hide_password=False)
