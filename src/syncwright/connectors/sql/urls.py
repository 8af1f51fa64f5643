"""Database URLs shown without their password, sealed when they hold one, and SQLite paths
made absolute."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, TypeVar

from sqlalchemy.engine import make_url

from syncwright.sdk.config import ConnectorConfig

U = TypeVar("U", bound="DatabaseUrlConfig")


class DatabaseUrlConfig(ConnectorConfig):
    """Settings around a SQLAlchemy ``url``, whose password is a secret like any other."""

    url: str

    def resolved(self: U, base_dir: Path) -> U:
        return self.model_copy(update={"url": resolve_sqlite_path(self.url, base_dir)})

    def public(self) -> dict[str, Any]:
        return {**super().public(), "url": safe_url(self.url)}

    def database_urls(self) -> dict[str, str]:
        return {"url": self.url}

    def stored(self, seal: Callable[[str], str] | None = None) -> dict[str, Any]:
        values = super().stored(seal)
        if seal is not None and safe_url(self.url) != self.url:  # a password in the URL
            values["url"] = seal(self.url)
        return values


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
