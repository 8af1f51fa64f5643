"""Screenshots of every page of the web UI, for the docs.

    python scripts/screenshots.py --url http://127.0.0.1:8000 --email demo@example.com \\
        --password demo-password --out docs/screenshots

Signs in, then saves the syncs overview, a sync's page, the synchronisations page, a run's
page, the sync report (failed entries), an entry's page and an item's history, at laptop
width, and the overview and the report at phone width. Needs Chromium (Debian's ``chromium`` package) and Playwright.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
#: Headless as root, and no calls to Google's services (the machine may have no internet).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--email", default="demo@example.com")
    parser.add_argument("--password", default="demo-password")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1360, "height": 860})
        page.goto(f"{args.url}/login")
        page.get_by_label("E-mail").fill(args.email)
        page.get_by_label("Password").fill(args.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r".*/w/[^/]+/syncs$"))
        base = page.url.rsplit("/syncs", 1)[0]

        def shot(name: str) -> None:
            page.screenshot(path=str(args.out / f"{name}.png"), full_page=True)
            print(args.out / f"{name}.png")

        shot("syncs")
        page.locator("table.syncs tbody a").first.click()
        shot("sync")
        page.goto(f"{base}/runs")
        shot("synchronisations")
        failed = page.locator("tr[data-run]").filter(has=page.locator(".s-succeeded"))
        (failed.first if failed.count() else page.locator("tr[data-run]").first).locator(
            "a"
        ).first.click()
        shot("run")
        page.goto(f"{base}/report?status=failed&cols=latest")
        shot("report")
        page.locator("table.entries tbody td a[title='This entry']").first.click()
        shot("entry")
        page.go_back()
        page.locator("table.entries tbody td a[title='History across runs']").first.click()
        shot("history")
        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        phone.context.add_cookies(page.context.cookies())
        for name, path in (("syncs-phone", "/syncs"), ("report-phone", "/report?status=failed")):
            phone.goto(f"{base}{path}")
            phone.screenshot(path=str(args.out / f"{name}.png"), full_page=True)
            print(args.out / f"{name}.png")
        browser.close()


if __name__ == "__main__":
    main()
