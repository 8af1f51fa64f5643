"""The pages tell the truth at the moments that matter, in Chromium against an engine in this
process (so a test can stage the runs it needs): which run was last, what a planned run has
not counted yet."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from syncwright.bootstrap.app import App, EngineRole
from syncwright.bootstrap.settings import Settings
from syncwright.domain.clock import utcnow
from syncwright.domain.run import RunFilter
from syncwright.domain.statuses import RunStatus, Trigger
from syncwright.web.app import create_app
from tests.api.conftest import _workspace
from tests.support.cli import wait_for
from tests.support.threaded_server import serving
from tests.web.conftest import Demo, sign_in

PASSWORD = "trust-password"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """An engine on SQLite and its pages (refreshing every second), one workspace whose
    sync runs every hour."""
    home = tmp_path_factory.mktemp("trust-home")
    data = tmp_path_factory.mktemp("trust-data")  # apart: connectors may not reach the home
    settings = Settings.from_env(
        {
            "SYNCWRIGHT_HOME": str(home),
            "SYNCWRIGHT_POLL_INTERVAL": "0.05",
            "SYNCWRIGHT_UI_REFRESH": "1",
        }
    )
    with App(settings, role=EngineRole.EXECUTE) as app:
        ws = _workspace(app, "trust", data, {"hourly": ", schedule: {every: 1h}"})
        admin = next(u for u, role in app.accounts.members(ws.id) if role.value == "admin")
        app.accounts.set_password(admin.email, PASSWORD)
        with serving(create_app(app)) as url:
            yield app, ws, Demo(url=url, folder=data, env={}, email=admin.email, password=PASSWORD)


def test_the_last_run_is_the_one_that_ran_last_not_the_one_made_last(site, page):
    app, ws, demo = site
    services = app.in_workspace(ws.id)
    sync_id = ws.syncs["hourly"]
    [planned] = [r for r in services.runs.upcoming() if r.sync_id == sync_id]
    assert planned.trigger is Trigger.SCHEDULE
    manual = services.runs.wait(services.runs.trigger("hourly").id, timeout=60, poll=0.05)
    assert manual.status is RunStatus.SUCCEEDED
    # The tick planned before the manual run comes due now: made first, it runs last.
    with app.store.engine.begin() as conn:
        app.store.runs.reschedule(conn, planned.id, utcnow())
    ticked = services.runs.wait(planned.id, timeout=60, poll=0.05)
    assert ticked.status is RunStatus.SUCCEEDED
    assert ticked.created_at < manual.created_at and ticked.started_at > manual.ended_at
    # Its end planned the next tick: a run in an hour, made last of all.
    following = wait_for(
        lambda: [
            r for r in services.runs.upcoming() if r.sync_id == sync_id and r.id != planned.id
        ],
        timeout=30,
    )[0]
    assert following.created_at > ticked.created_at

    base = sign_in(page, demo)
    path = base.removeprefix(demo.url)
    # The overview's "Last run" and the header's "Last update" are the tick.
    row = page.locator("table.syncs tbody tr").filter(has_text="hourly")
    expect(row.locator(f'a[href$="/runs/{ticked.id}"]')).to_be_visible()
    expect(page.locator("#last-update")).to_have_attribute("data-run", ticked.id)
    # The sync's recent runs: the tick first, then the manual run; the planned one is not
    # among them.
    page.goto(f"{base}/syncs/{sync_id}")
    recent = page.locator("table.recent tbody tr")
    expect(recent).to_have_count(2)
    expect(recent.nth(0).locator("a").first).to_have_attribute("href", f"{path}/runs/{ticked.id}")
    expect(recent.nth(1).locator("a").first).to_have_attribute("href", f"{path}/runs/{manual.id}")
    # The synchronisations page: the planned run (in an hour) on top with no counters yet,
    # then the tick, then the manual run; with when each ended and was last updated.
    page.goto(f"{base}/runs?sync={sync_id}")
    rows = page.locator("tr[data-run]")
    expect(rows).to_have_count(3)
    order = [rows.nth(i).get_attribute("data-run") for i in range(3)]
    assert order == [following.id, ticked.id, manual.id]
    headers = page.locator("table.runs thead th").all_inner_texts()
    assert {"When", "Ended", "Updated"} <= {h.strip(" ▼▲") for h in headers}
    planned_row = rows.nth(0)
    cells = planned_row.locator("td").all_inner_texts()
    assert cells.count("—") >= 5, cells  # ended, duration, read, changed, ok, failed
    assert "0" not in cells
    # Sorted by creation, the tick comes before the manual run: the page can show both.
    page.goto(f"{base}/runs?sync={sync_id}&sort=created_at&order=asc")
    order = [rows.nth(i).get_attribute("data-run") for i in range(3)]
    assert order == [ticked.id, manual.id, following.id]
    # A run's page names its workspace and shows everything it recorded, folded.
    page.goto(f"{base}/runs/{ticked.id}")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(ws.name)
    infos = page.locator("details.infos")
    expect(infos.locator("pre")).to_be_hidden()
    infos.locator("summary").click()
    expect(infos.locator("pre")).to_contain_text('"stage": "succeeded"')
    # A planned run's page says it has no counters yet.
    page.goto(f"{base}/runs/{following.id}")
    expect(page.locator("main")).to_contain_text("No counters yet: this run is planned")
    assert services.runs.list(RunFilter(ran=True), limit=1)[0].id == ticked.id
