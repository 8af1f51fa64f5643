"""The pages tell the truth at the moments that matter, in Chromium against an engine in this
process (so a test can stage the runs it needs): which run was last, what a planned run has
not counted yet, what a cancel left, what a failed item sent and got back."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest
from playwright.sync_api import expect

from syncwright.bootstrap.app import App, EngineRole
from syncwright.bootstrap.settings import Settings
from syncwright.domain.access import Role
from syncwright.domain.clock import utcnow
from syncwright.domain.run import RunFilter
from syncwright.domain.statuses import EntryStatus, RunStatus, Trigger
from syncwright.services.alerts import ChannelDoc
from syncwright.services.config_file import parse_config
from syncwright.services.report import Search
from syncwright.web.app import create_app
from tests.api.conftest import _workspace
from tests.support.catalogue import Catalogue
from tests.support.cli import wait_for
from tests.support.http_api import Answer, HttpApi
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
    # Cancelled before it started, the planned run did not run: the tick stays the last.
    page.get_by_role("button", name="Cancel run").click()
    expect(page.locator("#run-live")).to_have_attribute("data-status", "aborted")
    expect(page.locator("#last-update")).to_have_attribute("data-run", ticked.id)
    assert services.syncs.summary(sync_id).last_run.id == ticked.id
    assert services.syncs.summary(sync_id).health == "healthy"


def _configure(services, tmp_path, name: str, url: str, rows: int, extra: str = "") -> Catalogue:
    shop = Catalogue(tmp_path / f"{name}.db")
    shop.put(*({"id": i} for i in range(1, rows + 1)))
    services.configs.apply(
        parse_config(
            f"""
sources: {{{name}_src: {{type: sql, url: "{shop.url}"}}}}
models: {{{name}_model: {{source: {name}_src, query: "SELECT * FROM products", primary_key: id,
  reference: sku}}}}
destinations: {{{name}_api: {{type: http, url: "{url}", batch_size: 1, concurrency: 1}}}}
syncs: {{{name}: {{model: {name}_model, destination: {name}_api, batch_size: 5 {extra}}}}}
"""
        ),
        base_dir=tmp_path,
    )
    return shop


def test_a_cancel_shows_the_batch_in_flight_landing_and_what_was_never_attempted(
    site, page, tmp_path
):
    app, ws, demo = site
    services = app.in_workspace(ws.id)
    api = HttpApi()
    try:
        _configure(services, tmp_path, "slow", f"{api.url}/items", rows=20)
        api.hold(after=6)  # the first batch of 5, and one item of the second, go through
        run = services.runs.trigger("slow")
        wait_for(lambda: api.held and services.runs.get(run.id).counters.ok == 5, timeout=60)
        base = sign_in(page, demo)
        page.goto(f"{base}/runs/{run.id}")
        live = page.locator("#run-live")
        expect(live).to_have_attribute("data-status", "in_progress")
        listed = page.locator("#run-entries tr[data-entry]")
        expect(listed).to_have_count(5)  # the first batch, listed while the run goes
        page.get_by_role("button", name="Cancel run").click()
        expect(page.get_by_role("status")).to_contain_text("The run is cancelled")
        expect(live).to_have_attribute("data-status", "aborted")
        expect(page.locator("[data-settling]")).to_be_visible()
        facts = page.locator("dl.facts")
        expect(facts).to_contain_text(f"Cancelled by{demo.email}")
        expect(page.locator("p[role=alert]")).to_contain_text(f"cancelled by {demo.email}")
        # The batch that was out lands after the click; the page follows it by itself.
        api.release()
        expect(page.locator("[data-settling]")).to_have_count(0, timeout=60_000)
        counters = page.locator("table.counters")
        expect(counters).to_contain_text("ok 10")
        expect(counters).to_contain_text("pending 0")
        expect(counters).to_contain_text("not sent 10")
        expect(page.locator(".ok-note")).to_have_text("Every item is accounted for.")
        expect(facts).not_to_contain_text("Ended—")  # the end time is there
        expect(listed.and_(page.locator("[data-status=ok]"))).to_have_count(10)
        final = services.runs.get(run.id)
        assert final.counters.ok == 10 and final.counters.not_sent == 10
        assert final.counters.pending == 0 and final.counters.problems() == []
        # The report, its CSV and the API know the items never attempted.
        page.goto(f"{base}/report?run={run.id}&status=not_sent")
        rows = page.locator("tr[data-entry]")
        expect(rows).to_have_count(10)
        expect(rows.first).to_contain_text("Not sent")
        exported = page.request.get(f"{base}/report/export.csv?run={run.id}").text()
        statuses = [r["status"] for r in csv.DictReader(io.StringIO(exported))]
        assert sorted(statuses) == ["not_sent"] * 10 + ["ok"] * 10
        answer = httpx.get(
            f"{demo.url}/api/v1/workspaces/{ws.id}/runs/{run.id}",
            headers={"Authorization": f"Bearer {ws.tokens[Role.VIEWER]}"},
        ).json()
        assert answer["counters"]["not_sent"] == 10 and answer["status"] == "aborted"
    finally:
        api.close()


def test_a_failed_item_shows_what_was_sent_and_what_came_back(site, page, tmp_path):
    app, ws, demo = site
    services = app.in_workspace(ws.id)
    api = HttpApi()

    def floor(request):
        body = request.raw.decode()
        if '"price": 0.5' in body or '"price": 0.7' in body:
            sku = re.search(r"SKU-\d+", body).group(0)
            return Answer(status=422, body={"error": f"price below floor for {sku}"})
        return Answer(status=200, body={})

    api.handler = floor
    try:
        shop = _configure(
            services, tmp_path, "priced", f"{api.url}/items?api_key=s3cret&region=eu", rows=6
        )
        shop.put({"id": 2, "price": 0.5}, {"id": 4, "price": 0.5})
        first = services.runs.wait(services.runs.trigger("priced").id, timeout=60, poll=0.05)
        assert first.status is RunStatus.SUCCEEDED and first.counters.failed == 2
        base = sign_in(page, demo)
        page.goto(f"{base}/runs/{first.id}")
        # Failures first; one cause is one group, its HTTP status as written.
        statuses = [
            page.locator(".entries tbody tr").nth(i).get_attribute("data-status") for i in range(6)
        ]
        assert statuses[:2] == ["failed", "failed"] and set(statuses[2:]) == {"ok"}, statuses
        groups = page.locator("table.groups tbody tr")
        expect(groups).to_have_count(1)
        expect(groups.first).to_contain_text("HTTP 422 Unprocessable Entity: price below floor for")
        expect(groups.first.locator("td").nth(1)).to_have_text("2")
        # The failed item's page: the request as sent (no credential in its URL), the answer.
        page.locator(".entries tbody tr[data-status=failed]").filter(has_text="SKU-2").locator(
            "a[title='This entry']"
        ).click()
        expect(page.get_by_role("heading", name=re.compile("SKU-2"))).to_be_visible()
        sent = page.get_by_label("Request body")
        expect(sent).to_contain_text('"sku": "SKU-2"')
        expect(page.locator("main")).to_contain_text("POST ")
        expect(page.locator("main")).to_contain_text("api_key=***")
        expect(page.locator("main")).not_to_contain_text("s3cret")
        expect(page.locator("main")).to_contain_text("Status 422")
        expect(page.get_by_label("Response body")).to_contain_text("price below floor for SKU-2")
        expect(page.locator("main")).to_contain_text("No earlier version of this item")
        # The item changes and fails again: its page shows what changed.
        shop.put({"id": 2, "price": 0.7, "name": "item two"})
        second = services.runs.wait(services.runs.trigger("priced").id, timeout=60, poll=0.05)
        [again] = services.report.page(
            Search(run_id=second.id, statuses=(EntryStatus.FAILED,), reference="SKU-2"), limit=5
        ).entries
        page.goto(f"{base}/report/entries/{again.id}")
        changes = page.locator("table.changes tbody tr")
        expect(changes.filter(has_text="price")).to_contain_text("0.5")
        expect(changes.filter(has_text="price")).to_contain_text("0.7")
        expect(changes.filter(has_text="name")).to_contain_text("item two")
        # Resync this item: it still fails, and was failing before: the sync is a warning.
        page.get_by_role("button", name="Resync this item").click()
        expect(page.get_by_role("status")).to_contain_text("Resync started: 1 run")
        resync = wait_for(
            lambda: (
                (r := services.runs.list(RunFilter(type="resync"), limit=1))
                and r[0].status.is_final
                and r[0]
            ),
            timeout=60,
        )
        assert resync.counters.failed == 1 and resync.status is RunStatus.SUCCEEDED
        page.goto(f"{base}/syncs")
        row = page.locator("table.syncs tbody tr").filter(has_text="priced")
        expect(row.locator(".badge").first).to_have_text("Warning")
    finally:
        api.close()


def test_a_refused_form_shows_again_with_the_input_and_the_message_beside_the_field(site, page):
    app, ws, demo = site
    base = sign_in(page, demo)
    page.goto(f"{base}/alerts")
    channel = page.get_by_role("form", name="New channel")
    # Only the fields a channel's type uses are shown.
    channel.get_by_label("Type").select_option("email")
    expect(channel.get_by_label("To")).to_be_visible()
    expect(channel.get_by_label("URL")).to_be_hidden()
    expect(channel.get_by_label("Secret")).to_be_hidden()
    channel.get_by_label("Type").select_option("webhook")
    expect(channel.get_by_label("To")).to_be_hidden()
    channel.get_by_label("Name").fill("ops hook")
    channel.get_by_label("URL").fill("https://hooks.example.com/ops")
    channel.get_by_label("Secret").fill("short")
    channel.get_by_role("button", name="Add channel").click()
    # The same page, the header and menu there, the values kept (not the secret), the
    # message beside the secret's field.
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    expect(page.get_by_role("navigation", name="Pages")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    channel = page.get_by_role("form", name="New channel")
    expect(channel.get_by_label("Name")).to_have_value("ops hook")
    expect(channel.get_by_label("URL")).to_have_value("https://hooks.example.com/ops")
    expect(channel.get_by_label("Type")).to_have_value("webhook")
    secret = channel.get_by_label("Secret")
    expect(secret).to_have_value("")
    expect(secret).to_have_attribute("aria-invalid", "true")
    expect(channel.locator("#problem-secret")).to_contain_text("16 characters or more")
    # A rule's threshold field says what it means for the condition chosen; a wrong one is
    # refused beside it.
    app.in_workspace(ws.id).alerts.create_channel(
        "ops mail",
        ChannelDoc(type="webhook", url="https://hooks.example.com/ops", secret="s" * 20),
        user_id=None,
    )
    page.reload()
    # A Slack channel's URL is its credential: a refused form does not send it back.
    channel = page.get_by_role("form", name="New channel")
    channel.get_by_label("Type").select_option("slack")
    channel.get_by_label("Name").fill("ops mail")  # taken
    channel.get_by_label("URL").fill("https://hooks.slack.com/services/T0/B0/credential")
    channel.get_by_role("button", name="Add channel").click()
    expect(page.locator("main > p[role=alert]")).to_contain_text("exists already")
    channel = page.get_by_role("form", name="New channel")
    expect(channel.get_by_label("Name")).to_have_value("ops mail")
    expect(channel.get_by_label("URL")).to_have_value("")
    assert "credential" not in page.content()
    assert all("credential" not in c["value"] for c in page.context.cookies())
    rule = page.get_by_role("form", name="New rule")
    rule.get_by_label("When").select_option(label="the last run failed")
    expect(rule.get_by_label("Threshold")).to_be_hidden()
    rule.get_by_label("When").select_option(label="failed entries above a count or a share")
    expect(rule.locator("#threshold-hint")).to_contain_text("a count (5) or a share")
    rule.get_by_label("Name").fill("too many failures")
    rule.get_by_label("Threshold").fill("lots")
    rule.get_by_label("Channels").select_option("ops mail")
    rule.get_by_role("button", name="Add rule").click()
    rule = page.get_by_role("form", name="New rule")
    expect(rule.get_by_label("Name")).to_have_value("too many failures")
    expect(rule.get_by_label("Threshold")).to_have_value("lots")
    expect(rule.locator("#problem-threshold")).to_be_visible()
    # An error page keeps the header and the user menu.
    page.goto(f"{base}/runs/no-such-run")
    expect(page.locator(".message")).to_contain_text("no run with id no-such-run")
    expect(page.get_by_role("navigation", name="Pages")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_the_sync_page_is_a_dashboard_and_the_pages_follow_runs_by_themselves(site, page, tmp_path):
    app, ws, demo = site
    services = app.in_workspace(ws.id)
    api = HttpApi()
    try:
        _configure(services, tmp_path, "watched", f"{api.url}/items", rows=12)
        first = services.runs.wait(services.runs.trigger("watched").id, timeout=60, poll=0.05)
        assert first.status is RunStatus.SUCCEEDED
        sync_id = services.syncs.named("watched").id
        base = sign_in(page, demo)
        path = base.removeprefix(demo.url)
        page.goto(f"{base}/syncs/{sync_id}")
        card = page.locator("section.last-run")
        expect(card.locator(".badge")).to_have_text("Succeeded")
        added = card.get_by_role("link", name=re.compile("added"))
        expect(added).to_contain_text("12")
        expect(added).to_have_attribute("href", f"{path}/report?run={first.id}&operation=add")
        # The chart: a bar per run linking to it, a time axis in the viewer's zone, what the
        # marks mean under it.
        bar = page.locator("svg.chart a")
        expect(bar).to_have_count(1)
        expect(bar).to_have_attribute("href", f"{path}/runs/{first.id}")
        tick = page.locator("svg.chart text.tick").first
        expect(tick).not_to_contain_text("UTC")  # shown in the browser's own zone
        expect(page.locator("figure.chart-box figcaption")).to_contain_text(
            "coloured by its status"
        )
        assert page.locator("svg.chart .legend").count() == 0
        for region in ("#sync-live", "#sync-runs"):
            expect(page.locator(region)).to_have_attribute("aria-live", "polite")
        # A run starts elsewhere: the page shows it live with Cancel, then its end, unreloaded.
        page.evaluate("window.notReloaded = true")
        api.hold(after=0)
        second = services.runs.trigger("watched", full=True)
        expect(card.get_by_role("button", name="Cancel run")).to_be_visible(timeout=30_000)
        api.release()
        expect(card.locator(".badge")).to_have_text("Succeeded", timeout=60_000)
        expect(card.get_by_role("link").first).to_have_attribute("href", f"{path}/runs/{second.id}")
        expect(bar).to_have_count(2)
        assert page.evaluate("window.notReloaded") is True
        # The report and the overview follow by themselves too.
        page.goto(f"{base}/report?sync={sync_id}&days=1")
        page.evaluate("window.notReloaded = true")
        total = page.locator("[data-total]")
        expect(total).to_have_text("24")
        third = services.runs.wait(
            services.runs.trigger("watched", full=True).id, timeout=60, poll=0.05
        )
        expect(total).to_have_text("36", timeout=30_000)
        assert page.evaluate("window.notReloaded") is True
        expect(page.locator("#report-live")).to_have_attribute("aria-live", "polite")
        page.goto(f"{base}/syncs")
        page.evaluate("window.notReloaded = true")
        row = page.locator("table.syncs tbody tr").filter(has_text="watched")
        expect(row.locator(f'a[href$="/runs/{third.id}"]')).to_be_visible()
        fourth = services.runs.wait(services.runs.trigger("watched").id, timeout=60, poll=0.05)
        expect(row.locator(f'a[href$="/runs/{fourth.id}"]')).to_be_visible(timeout=30_000)
        expect(page.locator("#syncs-live")).to_have_attribute("aria-live", "polite")
        assert page.evaluate("window.notReloaded") is True
    finally:
        api.close()


def test_the_report_counts_by_status_filters_on_its_columns_and_names_its_files(
    site, page, tmp_path
):
    app, ws, demo = site
    services = app.in_workspace(ws.id)
    api = HttpApi()

    def floor(request):
        if '"price": 0.5' in request.raw.decode():
            return Answer(status=422, body={"error": "price below floor"})
        return Answer(status=200, body={})

    api.handler = floor
    try:
        shop = _configure(services, tmp_path, "counted", f"{api.url}/items", rows=8)
        shop.put({"id": 3, "price": 0.5}, {"id": 5, "price": 0.5})
        first = services.runs.wait(services.runs.trigger("counted").id, timeout=60, poll=0.05)
        shop.put({"id": 1, "name": "renamed"})
        second = services.runs.wait(services.runs.trigger("counted").id, timeout=60, poll=0.05)
        assert (first.counters.failed, second.counters.ok, second.counters.failed) == (2, 1, 2)
        sync_id = services.syncs.named("counted").id
        base = sign_in(page, demo)
        page.goto(f"{base}/report?sync={sync_id}")
        # The count of matching entries, and a chip per status in the order people read them.
        expect(page.locator("[data-total]")).to_have_text("11")  # 8, then 1 changed and 2 again
        chips = page.locator("[data-chip]")
        assert [c.get_attribute("data-chip") for c in chips.all()][:4] == [
            "ok",
            "sent",
            "pending",
            "failed",
        ]
        expect(page.locator('[data-chip="ok"]')).to_contain_text("OK 7")
        expect(page.locator('[data-chip="failed"]')).to_contain_text("Failed 4")
        # Resync waits for a choice.
        resync = page.locator("[data-resync]")
        expect(resync).to_be_disabled()
        page.locator('input[name="entry_id"]').first.check()
        expect(resync).to_be_enabled()
        page.locator('input[name="entry_id"]').first.uncheck()
        expect(resync).to_be_disabled()
        page.get_by_label("all entries matching the filter").check()
        expect(resync).to_be_enabled()
        # A chip filters by its status.
        page.locator('[data-chip="failed"]').click()
        expect(page.locator('[data-chip="failed"]')).to_have_attribute("aria-pressed", "true")
        rows = page.locator("tr[data-entry]")
        expect(rows).to_have_count(4)
        expect(page.locator("[data-total]")).to_have_text("4")
        # The other chips stay, to add their status.
        expect(page.locator('[data-chip="ok"]')).to_have_attribute("aria-pressed", "false")
        expect(page.locator('[data-chip="ok"]')).to_contain_text("OK 7")
        expect(rows.first).to_contain_text("Added")  # operations in words
        # The error-group picker on the Error column.
        page.get_by_label("Filter by error").click()
        picker = page.get_by_label("Error group")
        expect(picker.locator("option").nth(1)).to_contain_text("HTTP 422 Unprocessable Entity")
        expect(picker.locator("option").nth(1)).to_contain_text("(4)")
        picker.select_option(index=1)
        page.get_by_role("button", name="Apply").first.click()
        expect(page).to_have_url(re.compile(r"group=HTTP"))
        expect(rows).to_have_count(4)
        # The CSV's name says what it holds.
        with page.expect_download() as download:
            page.get_by_role("link", name="Download CSV").click()
        name = download.value.suggested_filename
        today = utcnow().date().isoformat()
        assert name.startswith("sync-report_failed_counted_") and name.endswith(f"_{today}.csv")
        # The Run column takes the 8 characters the table shows.
        page.goto(f"{base}/report?sync={sync_id}")
        page.get_by_label("Filter by run").click()
        page.get_by_label("Run id").fill(second.id[:8])
        page.get_by_role("button", name="Apply").click()
        expect(rows).to_have_count(3)  # the renamed item and the two still failing
        assert {r.get_attribute("data-entry") for r in rows.all()} <= {
            str(e.id) for e in services.report.page(Search(run_id=second.id), limit=10).entries
        }
        # The Operation column's filter.
        page.goto(f"{base}/report?sync={sync_id}")
        page.get_by_label("Filter by operation").click()
        page.get_by_label("Changed").check()
        page.get_by_role("button", name="Apply").click()  # the open filter's
        expect(page).to_have_url(re.compile(r"operation=change"))
        expect(rows).to_have_count(1)  # the renamed item (the failing ones are added again)
        # Display: only each item's latest entry (8 items), apart from the filters.
        page.goto(f"{base}/report?sync={sync_id}")
        page.get_by_text("Display").click()
        page.get_by_label("only each item's latest entry").check()
        page.get_by_role("button", name="Show").click()
        expect(page).to_have_url(re.compile(r"latest_only=on"))
        expect(rows).to_have_count(8)
        expect(page.locator("[data-total]")).to_have_text("8")
    finally:
        api.close()


def _luminance(rgb: str) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(v) for v in re.findall(r"\d+", rgb)[:3])
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(one: str, other: str) -> float:
    a, b = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def test_a_phone_sees_a_runs_failures_first_and_focus_rings_stand_out(site, browser, tmp_path):
    app, ws, demo = site
    services = app.in_workspace(ws.id)
    api = HttpApi()
    api.handler = lambda request: Answer(status=422, body={"error": "refused"})
    try:
        _configure(services, tmp_path, "refused", f"{api.url}/items", rows=3)
        run = services.runs.wait(services.runs.trigger("refused").id, timeout=60, poll=0.05)
        assert run.counters.failed == 3
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        phone = context.new_page()
        base = sign_in(phone, demo)
        phone.goto(f"{base}/runs/{run.id}")
        summary = phone.locator("p.failures")
        expect(summary).to_contain_text("3 failed entries: HTTP 422 Unprocessable Entity")
        box = summary.bounding_box()
        assert box is not None and box["y"] + box["height"] < 844  # above the fold
        facts = phone.locator("dl.facts").bounding_box()
        assert facts is not None and facts["y"] > box["y"]  # the details come after
        context.close()
        # The focus ring, on the page and on the dark header, at 3:1 or more.
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        base = sign_in(page, demo)
        page.goto(f"{base}/runs/{run.id}")
        for target, around in (("main a", "body"), ("header.top a", "header.top")):
            page.locator(target).first.focus()
            page.keyboard.press("Shift+Tab")
            page.keyboard.press("Tab")  # focused from the keyboard: :focus-visible
            ring = page.evaluate("getComputedStyle(document.activeElement).outlineColor")
            background = page.evaluate(
                f"getComputedStyle(document.querySelector('{around}')).backgroundColor"
            )
            assert _contrast(ring, background) >= 3, (target, ring, background)
        context.close()
    finally:
        api.close()
