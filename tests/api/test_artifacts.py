"""Published files over real HTTP: a run's file and a sync's constant latest URL, with their
content type, length and ETag; the schedule of upcoming runs."""

from __future__ import annotations

import csv
import io

import yaml

from syncwright.domain.access import Role
from syncwright.services.config_file import parse_config


def _feed(world):
    services = world.served.app.in_workspace(world.alpha.id)
    shop = world.folder / f"{world.alpha.name}.db"
    doc = {
        "sources": {"feed_src": {"type": "sql", "url": f"sqlite:///{shop}"}},
        "models": {
            "feed_rows": {
                "source": "feed_src",
                "query": "SELECT * FROM products",
                "primary_key": "id",
            }
        },
        "destinations": {"feed": {"type": "file_feed", "directory": "feeds", "name": "catalogue"}},
        "syncs": {"catalogue_feed": {"model": "feed_rows", "destination": "feed"}},
    }
    services.configs.apply(parse_config(yaml.safe_dump(doc)), base_dir=world.folder)
    run = services.runs.wait(services.runs.trigger("catalogue_feed").id, timeout=60, poll=0.05)
    return run, {s.name: s.id for s in services.syncs.list()}["catalogue_feed"]


def test_a_runs_file_and_the_syncs_latest_url(world):
    run, sync_id = _feed(world)
    base = f"/api/v1/workspaces/{world.alpha.id}"
    with world.as_(Role.VIEWER) as c:
        meta = c.get(f"{base}/runs/{run.id}/artifact").json()
        assert meta["rows"] == 5 and meta["content_type"] == "text/csv"
        content = c.get(f"{base}/runs/{run.id}/artifact/content")
        assert content.status_code == 200
        assert content.headers["content-type"].startswith("text/csv")
        assert int(content.headers["content-length"]) == meta["size"] == len(content.content)
        assert content.headers["etag"] == f'"{meta["checksum"]}"'
        assert len(list(csv.DictReader(io.StringIO(content.text)))) == 5
        latest = c.get(f"{base}/syncs/{sync_id}/artifacts/latest")
        assert (
            latest.content == content.content and latest.headers["etag"] == content.headers["etag"]
        )
        same = c.get(
            f"{base}/syncs/{sync_id}/artifacts/latest",
            headers={"If-None-Match": latest.headers["etag"]},
        )
        assert same.status_code == 304 and same.content == b""
        # a run that published nothing, and a sync that never did
        services = world.served.app.in_workspace(world.alpha.id)
        plain = services.runs.wait(services.runs.trigger("a_products").id, timeout=60, poll=0.05)
        assert c.get(f"{base}/runs/{plain.id}/artifact").status_code == 404
        never = c.get(f"{base}/syncs/{world.alpha.syncs['a_products']}/artifacts/latest")
        assert never.status_code == 404 and "no file yet" in never.json()["detail"]
    with world.as_(Role.ADMIN, "beta") as outsider:
        assert outsider.get(f"{base}/syncs/{sync_id}/artifacts/latest").status_code == 404
        beta_path = f"/api/v1/workspaces/{world.beta.id}/runs/{run.id}/artifact/content"
        assert outsider.get(beta_path).status_code == 404


def test_the_schedule_lists_planned_runs_soonest_first(world):
    with world.as_(Role.VIEWER) as c:
        upcoming = c.get(f"/api/v1/workspaces/{world.alpha.id}/schedule").json()
    assert [r["sync_name"] for r in upcoming] == ["c_planned"]
    assert upcoming[0]["status"] == "scheduled" and upcoming[0]["scheduled_for"]
    with world.as_(Role.VIEWER, "beta") as c:
        assert c.get(f"/api/v1/workspaces/{world.beta.id}/schedule").json() == []
