"""An unexpected error answers 500 with no internals, and the server's log names the route by
its template, never by the path it was called on: a path may be a credential (the webhook
trigger's secret)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import httpx

from syncwright.api.app import create_api
from syncwright.bootstrap.app import App
from syncwright.bootstrap.settings import Settings


def test_an_unexpected_error_is_logged_by_its_routes_template_not_its_path(tmp_path, caplog):
    with App(Settings.from_env({"SYNCWRIGHT_HOME": str(tmp_path / "home")})) as sw:
        # The store fails under the webhook trigger (its table is gone).
        with sqlite3.connect(tmp_path / "home" / "syncwright.db") as db:
            db.execute("DROP TABLE webhooks")
        secret = "whsec-the-credential-itself"
        transport = httpx.ASGITransport(app=create_api(sw), raise_app_exceptions=False)

        async def trigger() -> httpx.Response:
            async with httpx.AsyncClient(transport=transport, base_url="http://sw") as client:
                return await client.post(f"/api/v1/hooks/{secret}")

        with caplog.at_level(logging.ERROR, logger="syncwright.api"):
            answer = asyncio.run(trigger())
    assert answer.status_code == 500
    assert answer.json()["detail"] == (
        "an unexpected error happened; the server's log has the details"
    )
    [logged] = [r for r in caplog.records if r.name == "syncwright.api"]
    assert logged.getMessage() == "unexpected error on POST /api/v1/hooks/{secret}"
    assert "no such table: webhooks" in caplog.text  # the details are there
    assert secret not in caplog.text
