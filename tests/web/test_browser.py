"""The demo's pages in Chromium, as an operator uses them: sign in, run, watch, filter the
report, resync, download, cancel. Nothing is created by hand but the demo."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import uuid

import httpx
from playwright.sync_api import expect

from tests.support.cli import CLI
from tests.support.http_api import HttpApi
from tests.web.conftest import sign_in


def test_sign_in_refuses_a_wrong_password_and_sets_a_safe_cookie(page, demo):
    page.goto(f"{demo.url}/w/anything/runs")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("E-mail").fill(demo.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong e-mail or password")
    base = sign_in(page, demo)
    [cookie] = [c for c in page.context.cookies() if c["name"] == "sw_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    expect(page.get_by_role("heading", name="Syncs")).to_be_visible()
    assert "/w/" in base


def test_a_locked_account_is_told_why_in_words_until_it_is_unlocked(page, demo):
    email, password = f"locked-{uuid.uuid4().hex[:8]}@example.com", "locked-password"
    subprocess.run(
        [*CLI, "users", "create", email, "--role", "viewer", "--password-stdin"],
        input=password + "\n",
        env=demo.env,
        check=True,
        capture_output=True,
        text=True,
    )
    page.goto(f"{demo.url}/login")
    alert = page.get_by_role("alert")
    for n in range(10):  # the tenth failure locks, however fast they come
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(f"guess-{n}")
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
    locked = (
        "Too many failed sign-ins for this account: try again in 15 minutes, "
        "or ask an admin to unlock it"
    )
    expect(alert).to_contain_text(locked)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(alert).to_contain_text(locked)  # the right password too
    subprocess.run([*CLI, "users", "unlock", email], env=demo.env, check=True, capture_output=True)
    sign_in(page, demo, email, password)
    expect(page.get_by_role("heading", name="Syncs")).to_be_visible()


def test_the_overview_lists_syncs_with_health_and_filters(page, demo):
    sign_in(page, demo)
    rows = page.locator("table.syncs tbody tr")
    expect(rows).to_have_count(2)
    warehouse = rows.filter(has_text="catalogue_to_warehouse")
    expect(warehouse).to_contain_text("Warning")  # one item failed in its last run
    expect(warehouse).to_contain_text("products")
    expect(warehouse).to_contain_text("warehouse")
    page.get_by_label("Label").select_option("csv")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("catalogue_feed")
    expect(rows.first).to_contain_text("feeds")
    page.goto(page.url.split("?")[0] + "?search=WAREHOUSE")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("catalogue_to_warehouse")
    page.goto(page.url.split("?")[0] + "?status=failed")
    expect(page.locator(".empty")).to_contain_text("No sync matches")


def test_times_are_shown_in_the_viewers_time_zone(browser, demo):
    context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-GB")
    page = context.new_page()
    sign_in(page, demo)
    shown = page.locator("table.syncs time").first
    iso = shown.get_attribute("datetime")
    assert iso and iso.endswith("+00:00")
    expect(shown).not_to_contain_text("UTC")
    expect(shown).to_contain_text(re.compile(r"GMT\+9|JST"))
    context.close()


def test_run_on_the_sync_page_shows_on_synchronisations_without_reloading(page, demo):
    base = sign_in(page, demo)
    page.goto(f"{base}/runs")
    page.evaluate("window.notReloaded = true")
    before = page.locator("tr[data-run]").count()
    # Someone presses Run on the sync's page, in another tab.
    other = page.context.new_page()
    other.goto(f"{base}/syncs")
    other.get_by_role("link", name="catalogue_to_warehouse").click()
    other.get_by_role("button", name="Run", exact=True).click()
    expect(other.get_by_role("status")).to_contain_text("A run of catalogue_to_warehouse started")
    run_id = other.url.rsplit("/", 1)[-1]
    # The synchronisations page picks the run up and follows it to its end by itself.
    row = page.locator(f'tr[data-run="{run_id}"]')
    expect(row).to_be_visible()
    # Only the item that failed before is sent again, and fails again. It was already failing,
    # so the run succeeds with that one failure (the sync shows a warning).
    expect(row).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(row).to_contain_text("Succeeded")
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("tr[data-run]").count() >= before + 1
    expect(row).to_contain_text("Manual")
    expect(row).to_contain_text("demo@example.com")


def test_run_synchronization_button_and_a_live_status_change(page, demo):
    base = sign_in(page, demo)
    page.goto(f"{base}/runs?sync=&status=")
    page.get_by_label("Sync to run").select_option(label="catalogue_to_warehouse")
    page.get_by_label("full resync").check()
    page.get_by_role("button", name="Run Synchronization").click()
    expect(page.get_by_role("status")).to_contain_text("full resync of catalogue_to_warehouse")
    page.evaluate("window.notReloaded = true")
    newest = page.locator("tr[data-run]:not([data-status=scheduled])").first
    expect(newest).to_contain_text("full")
    expect(newest).to_have_attribute("data-status", "succeeded", timeout=30_000)
    assert page.evaluate("window.notReloaded") is True
    # The header's "last update" follows too.
    expect(page.locator("#last-update")).to_contain_text("Succeeded")


def test_the_refresh_keeps_filters_and_scroll(page, demo):
    base = sign_in(page, demo)
    page.set_viewport_size({"width": 1280, "height": 300})
    page.goto(f"{base}/runs?status=succeeded")
    page.evaluate("window.scrollTo(0, 200)")
    first = page.evaluate("document.body.dataset.refreshedAt || ''")
    # A locator waits without evaluating a string in the page, which the CSP refuses.
    expect(page.locator("body")).to_have_attribute(
        "data-refreshed-at", re.compile(rf"^(?!{re.escape(first)}$).+"), timeout=10_000
    )
    assert page.evaluate("window.scrollY") == 200
    assert page.url.endswith("?status=succeeded")
    statuses = page.locator("tr[data-run]").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert statuses and set(statuses) == {"succeeded"}


def test_report_failed_entries_select_resync_and_download(page, demo):
    base = sign_in(page, demo)
    page.goto(f"{base}/report")
    # The status column's own filter (the chips above the table do the same in one click).
    page.get_by_label("Filter by status").click()
    page.locator('input[name="status"][value="failed"]').check()
    page.get_by_role("button", name="Apply").first.click()
    expect(page).to_have_url(re.compile(r"status=failed"))
    rows = page.locator("tr[data-entry]")
    expect(rows.first).to_be_visible()
    statuses = rows.evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert statuses and set(statuses) == {"failed"}
    shown = sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.entry)"))
    # The CSV holds exactly the filtered entries.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    text = download.value.path().read_text(encoding="utf-8")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["id"] for r in exported) == shown
    assert {r["status"] for r in exported} == {"failed"}
    assert all("NOT NULL" in r["error"] for r in exported)
    # Select them all, resync.
    page.get_by_label("Select every entry on this page").check()
    expect(page.locator("[data-count]")).to_have_text(str(len(shown)))
    page.get_by_role("button", name="Resync").click()
    expect(page.get_by_role("status")).to_contain_text("Resync started: 1 run")
    newest = page.locator("tr[data-run]:not([data-status=scheduled])").first
    expect(newest).to_contain_text("Resync")
    # The item still has no name: the resync fails it again. It was already failing, so the
    # run itself succeeds with that one failure.
    expect(newest).to_have_attribute("data-status", "succeeded", timeout=30_000)
    # The item's history shows the resync's entry (it fails again: the name is still empty).
    page.goto(f"{base}/report?status=failed")
    page.locator("tr[data-entry] td a[title='History across runs']").first.click()
    expect(page.get_by_role("heading", name=re.compile("History of"))).to_be_visible()
    history = page.locator("table.entries tbody tr:not(.payload)")
    expect(history.filter(has_text="resync").first).to_be_visible()
    statuses = history.locator(".badge").all_inner_texts()
    assert len(statuses) >= 3 and statuses[-1].endswith("OK")  # first sent fine, then failed


def test_report_sorts_pages_and_shows_extra_columns(page, demo):
    base = sign_in(page, demo)
    page.goto(f"{base}/report?sort=reference&order=asc&cols=source_id&cols=endpoint_id")
    expect(page.get_by_role("columnheader", name="Source id")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Endpoint id")).to_be_visible()
    ids = "rows => rows.map(r => r.dataset.entry)"
    refs = page.locator("tr[data-entry] td:nth-child(3)").all_inner_texts()
    first_ids = page.locator("tr[data-entry]").evaluate_all(ids)
    assert refs == sorted(refs) and len(refs) == 100
    page.get_by_role("link", name="Next page →").click()
    more = page.locator("tr[data-entry] td:nth-child(3)").all_inner_texts()
    assert more and more == sorted(more) and more[0] >= refs[-1]
    assert not set(page.locator("tr[data-entry]").evaluate_all(ids)) & set(first_ids)
    page.get_by_label("Period").select_option("1")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"days=1"))


def test_the_run_page_shows_the_identity_and_error_groups(page, demo):
    base = sign_in(page, demo)
    page.goto(f"{base}/runs?sync=&type=resources_update&status=succeeded&sort=failed&order=desc")
    page.locator("tr[data-run] a").first.click()
    expect(page.locator(".ok-note")).to_have_text("Every item is accounted for.")
    expect(page.locator("table.counters")).to_contain_text("= unchanged")
    expect(page.get_by_role("heading", name="Errors")).to_be_visible()
    expect(page.locator("body")).to_contain_text("NOT NULL constraint failed")
    page.get_by_role("button", name=re.compile(r"Resync these 1")).click()
    expect(page.get_by_role("status")).to_contain_text("Resyncing the failed items")
    # The run page follows the resync live until it ends. The item fails again, but it was
    # already failing: the run succeeds with that one failure, and its error is listed.
    live = page.locator("#run-live")
    expect(live).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(page.locator("body")).to_contain_text("NOT NULL constraint failed")


def test_cancel_a_planned_run(page, demo):
    base = sign_in(page, demo)
    page.goto(f"{base}/runs?status=scheduled")
    planned = page.locator("tr[data-run]").first
    expect(planned).to_contain_text("catalogue_feed")
    planned.locator("a").first.click()
    page.get_by_role("button", name="Cancel run").click()
    expect(page.get_by_role("status")).to_contain_text("The run is cancelled")
    expect(page.locator("#run-live")).to_have_attribute("data-status", "aborted")


def test_sync_page_toggle_folder_labels_chart_and_feed(page, demo):
    base = sign_in(page, demo)
    page.get_by_role("link", name="catalogue_feed").click()
    # A bar per finished run, each leading to one listed under the chart (an hourly tick
    # may have run meanwhile: how many is the runs', not a fixed number).
    bars = page.locator("svg.chart a")
    expect(bars.first).to_be_visible()
    listed = {
        a.get_attribute("href")
        for a in page.locator("table.recent tbody tr td:first-child a").all()
    }
    assert {b.get_attribute("href") for b in bars.all()} <= listed
    expect(page.locator("dl.facts")).to_contain_text("every 1h")
    link = page.get_by_role("link", name="products-latest.csv")
    response = page.request.get(demo.url + link.get_attribute("href"))
    assert response.ok and response.headers["content-type"].startswith("text/csv")
    assert response.text().splitlines()[0].startswith("id,")
    page.get_by_role("button", name="Enabled: turn off").click()
    expect(page.get_by_role("status")).to_contain_text("catalogue_feed is off")
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_disabled()
    expect(page.locator("h1 .badge")).to_have_text("Disabled")
    page.get_by_role("button", name="Disabled: turn on").click()
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled()
    page.get_by_role("textbox", name="Folder").fill("exports")
    page.get_by_role("textbox", name="Labels").fill("csv, nightly")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Folder and labels saved")
    page.goto(f"{base}/syncs?folder=exports&label=nightly")
    expect(page.locator("table.syncs tbody tr")).to_have_count(1)


def test_errors_are_pages_with_a_message(page, demo):
    base = sign_in(page, demo)
    page.goto(f"{base}/syncs/no-such-sync")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.locator(".message")).to_have_text("no sync with id no-such-sync")
    page.goto(f"{base}/report?days=400")
    expect(page.locator(".message")).to_contain_text("the report keeps 15 days")
    assert "Traceback" not in page.content()
    page.goto(f"{demo.url}/w/not-a-workspace/syncs")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_forms_without_the_csrf_token_are_refused(page, demo):
    base = sign_in(page, demo)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    sync_path = page.locator("table.syncs tbody a").first.get_attribute("href")
    page.goto(f"{base}/runs")
    before = page.locator("tr[data-run]").first.get_attribute("data-run")
    with httpx.Client(base_url=demo.url, cookies=cookies) as client:
        refused = client.post(f"{sync_path}/run", data={"csrf": "forged"})
        assert refused.status_code == 403
        assert "security token" in refused.text
        assert client.post(f"{sync_path}/run").status_code == 403
    page.reload()  # nothing was started by those
    assert page.locator("tr[data-run]").first.get_attribute("data-run") == before


def test_pages_fit_a_phone_and_every_control_has_a_label(browser, demo):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    base = sign_in(page, demo)
    for path in ("/syncs", "/runs", "/report", "/report?status=failed", "/alerts"):
        page.goto(base + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{path} is {overflow}px wider than a phone"
        unlabelled = page.evaluate(
            """[...document.querySelectorAll('input:not([type=hidden]), select, button')]
              .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                            && !(el.textContent || '').trim())
              .map(el => el.outerHTML)"""
        )
        assert unlabelled == [], f"{path}: controls without a label: {unlabelled}"
    # On a phone the filters fold behind "Filters (n)"; the keyboard opens them and reaches
    # the first one from the top of the page.
    page.goto(base + "/syncs?label=csv")
    expect(page.get_by_text("Filters (1)")).to_be_visible()
    expect(page.get_by_label("Search")).to_be_hidden()
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent").startswith("Filters ("):
            break
    else:
        raise AssertionError("the filters' button is not reachable with the keyboard")
    page.keyboard.press("Enter")
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "search":
            break
    else:
        raise AssertionError("the search box is not reachable with the keyboard")
    # Rows read as cards: each cell says its column.
    expect(page.locator("table.syncs tbody tr td").nth(1)).to_have_attribute("data-label", "Name")
    context.close()


def test_workspace_switcher_and_roles(page, demo):
    subprocess.run(
        [*CLI, "users", "grant", demo.email, "--role", "viewer", "--workspace", "shop-2"],
        env=demo.env,
        check=True,
        capture_output=True,
    )
    sign_in(page, demo)
    page.get_by_text("Workspace: default").click()
    page.get_by_role("link", name="shop-2").click()
    expect(page.locator(".empty")).to_contain_text("No sync yet")
    page.get_by_role("link", name="Synchronisations").click()
    expect(page.get_by_role("button", name="Run Synchronization")).to_have_count(0)
    expect(page.locator(".empty")).to_contain_text("No synchronisation yet")


def test_sign_out_then_delete_with_confirmation(page, demo):
    base = sign_in(page, demo)
    page.get_by_role("link", name="catalogue_feed").click()
    page.get_by_role("link", name="Delete…").click()
    expect(page.get_by_role("heading", name="Delete catalogue_feed?")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("button", name="Yes, delete catalogue_feed").click()
    expect(page.get_by_role("status")).to_contain_text("catalogue_feed is deleted")
    expect(page.locator("table.syncs tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(f"{base}/syncs")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_alerts_channel_test_notice_rule_firing_and_turned_off(page, demo):
    receiver = HttpApi()
    try:
        base = sign_in(page, demo)
        page.get_by_role("link", name="Alerts").click()
        expect(page.locator(".empty")).to_contain_text("No alert yet")
        channel = page.get_by_role("form", name="New channel")
        channel.get_by_label("Name").fill("ops")
        channel.get_by_label("Type").select_option("webhook")
        channel.get_by_label("URL").fill(f"{receiver.url}/alerts")
        channel.get_by_label("Secret").fill("short")
        channel.get_by_role("button", name="Add channel").click()
        expect(page.locator("main")).to_contain_text("secret")  # refused, naming the field
        page.go_back()
        channel.get_by_label("Name").fill("ops")
        channel.get_by_label("Secret").fill("a-long-enough-secret")
        channel.get_by_role("button", name="Add channel").click()
        expect(page.get_by_role("status")).to_contain_text("Channel ops added")
        page.get_by_role("button", name="Send a test").click()
        expect(page.get_by_role("status")).to_contain_text("A test notice went to ops")
        assert receiver.requests[-1].body["test"] is True

        rule = page.get_by_role("form", name="New rule")
        rule.get_by_label("Name").fill("warehouse stale")
        rule.get_by_label("When").select_option("freshness")
        rule.get_by_label("Threshold").fill("1s")
        rule.get_by_label("Sync").select_option("catalogue_to_warehouse")
        rule.get_by_label("Channels").select_option("ops")
        rule.get_by_role("button", name="Add rule").click()
        expect(page.get_by_role("status")).to_contain_text("Rule warehouse stale added")
        # The engine judges the rule: the alert fires and the page shows it by itself.
        history = page.locator("table.alerts tbody tr")
        expect(history.filter(has_text="warehouse stale")).to_contain_text("Firing")
        expect(history.first).to_contain_text("1 of 1 delivered")
        fired = [r.body for r in receiver.requests if r.body.get("event") == "alert.firing"]
        assert fired and fired[0]["sync"]["name"] == "catalogue_to_warehouse"
        history.first.get_by_role("link").first.click()
        expect(page.get_by_role("heading", name=re.compile("warehouse stale"))).to_be_visible()
        expect(page.locator("table tbody tr")).to_contain_text("Delivered")
        page.go_back()
        page.get_by_role("button", name="Turn off").click()
        expect(page.get_by_role("status")).to_contain_text("Rule warehouse stale is off")
        expect(history.first).to_contain_text("Resolved")
        page.goto(f"{base}/alerts?state=open")
        expect(page.locator(".empty")).to_contain_text("No open alert")
    finally:
        receiver.close()


def test_the_pages_and_the_api_docs_work_under_the_content_security_policy(page, demo):
    """Through the main pages and the API docs, Chromium refuses nothing the pages need (it
    would say so on the console and fire securitypolicyviolation) and no script fails."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: refused.append(f"script error: {error}"))
    # Reported by the browser itself, whatever the console says.
    page.add_init_script(
        "window.violations = [];"
        " document.addEventListener('securitypolicyviolation', e =>"
        " window.violations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )

    def violations() -> list[str]:
        return [*refused, *page.evaluate("window.violations")]

    base = sign_in(page, demo)
    expect(page.locator("table.syncs tbody tr").first).to_be_visible()
    page.get_by_role("link", name="catalogue_to_warehouse").click()
    expect(page.get_by_role("heading", name=re.compile("catalogue_to_warehouse"))).to_be_visible()
    assert violations() == []
    page.goto(f"{base}/runs")
    # The live region refreshes itself (a fetch back to the site).
    expect(page.locator("body")).to_have_attribute(
        "data-refreshed-at", re.compile(".+"), timeout=10_000
    )
    assert violations() == []
    page.locator("tr[data-run] a").first.click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]+$"))
    expect(page.get_by_role("heading", name="Counters")).to_be_visible()
    assert violations() == []
    page.goto(f"{base}/report?status=failed")
    expect(page.locator("tr[data-entry]").first).to_be_visible()
    page.locator("[data-select-all]").check()  # a script's listener ticks every entry
    expect(page.locator("[data-count]")).not_to_have_text("0")
    assert violations() == []
    page.goto(f"{base}/alerts")
    expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
    assert violations() == []
    # The error page's "Go back" (a listener now, not a javascript: URL) goes back.
    page.goto(f"{base}/syncs/no-such-sync")
    page.get_by_role("link", name="Go back").click()
    expect(page).to_have_url(f"{base}/alerts")
    assert violations() == []
    # The API docs render from the package's own files and find a route.
    page.goto(f"{demo.url}/docs")
    assert violations() == []  # the page has loaded: a refused script would be told by now
    route = page.locator(".opblock").filter(has_text="/api/v1/workspaces/{workspace_id}/config")
    route.filter(has_text="POST").locator(".opblock-summary").first.click()
    expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    assert violations() == []
