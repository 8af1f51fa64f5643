"""Signed-in browsers: a session per cookie, stored by its token's SHA-256."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from syncwright.domain.access import WebSession, token_hash
from syncwright.domain.clock import as_utc, utcnow
from syncwright.storage.tables import web_sessions


class SessionRepository:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def open(self, user_id: str, token: str, csrf: str, expires_at: datetime) -> None:
        now = utcnow()
        with self.engine.begin() as conn:
            # Expired sessions go whenever a new one starts: the table stays small.
            conn.execute(web_sessions.delete().where(web_sessions.c.expires_at < now))
            conn.execute(
                web_sessions.insert().values(
                    token_hash=token_hash(token),
                    user_id=user_id,
                    csrf=csrf,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    def find(self, token: str) -> WebSession | None:
        """The live session of this cookie, or None (unknown, ended or expired)."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(web_sessions).where(web_sessions.c.token_hash == token_hash(token))
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        expires = as_utc(row["expires_at"])
        if expires is None or expires <= utcnow():
            return None
        return WebSession(user_id=row["user_id"], csrf=row["csrf"], expires_at=expires)

    def close(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                web_sessions.delete().where(web_sessions.c.token_hash == token_hash(token))
            )
