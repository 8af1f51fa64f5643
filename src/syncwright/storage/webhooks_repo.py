"""Webhook secrets: only their SHA-256 is stored; the secret itself is shown once."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from syncwright.domain.access import token_hash
from syncwright.domain.clock import as_utc, utcnow
from syncwright.storage.tables import webhooks


class WebhookRepository:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def set(self, sync_id: str, token: str) -> None:
        """Give the sync this secret, replacing any earlier one (which stops working)."""
        with self.engine.begin() as conn:
            conn.execute(webhooks.delete().where(webhooks.c.sync_id == sync_id))
            conn.execute(
                webhooks.insert().values(
                    sync_id=sync_id, token_hash=token_hash(token), created_at=utcnow()
                )
            )

    def created_at(self, sync_id: str) -> datetime | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(webhooks.c.created_at).where(webhooks.c.sync_id == sync_id)
            ).scalar_one_or_none()
        return as_utc(found)

    def sync_of(self, token: str) -> str | None:
        """The sync a secret belongs to (and note it was used), or None."""
        with self.engine.begin() as conn:
            found = conn.execute(
                sa.select(webhooks.c.sync_id).where(webhooks.c.token_hash == token_hash(token))
            ).scalar_one_or_none()
            if found is not None:
                conn.execute(
                    webhooks.update()
                    .where(webhooks.c.sync_id == found)
                    .values(last_used_at=utcnow())
                )
        return found

    def drop(self, sync_id: str, conn: sa.Connection) -> None:
        """The sync's secret stops working (the sync is gone)."""
        conn.execute(webhooks.delete().where(webhooks.c.sync_id == sync_id))
