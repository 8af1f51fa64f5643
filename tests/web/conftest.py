"""The web UI in a real browser: Debian's Chromium driven by Playwright, headless, against
``syncwright demo`` serving for real on a free loopback port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.screenshots import CHROMIUM, FLAGS
from tests.support.cli import CLI


@dataclass
class Demo:
    url: str
    folder: Path
    env: dict[str, str]
    email: str = "demo@example.com"
    password: str = "syncwright-demo"


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """``syncwright demo`` on a small catalogue, serving its UI (pages refresh every second)."""
    folder = tmp_path_factory.mktemp("ui-demo")
    env = {
        **os.environ,
        "SYNCWRIGHT_POLL_INTERVAL": "0.05",
        "SYNCWRIGHT_UI_REFRESH": "1",
        "SYNCWRIGHT_ALERT_INTERVAL": "0.5",
        "COLUMNS": "200",
    }
    env.pop("SYNCWRIGHT_HOME", None)
    log = folder / "demo.log"  # the server's log: a pipe nobody reads would fill up
    with open(log, "w") as errors:
        process = subprocess.Popen(
            [*CLI, "demo", "--dir", "demo", "--rows", "300", "--port", "0"],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    url = None
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        found = re.search(r"web UI at (http://127\.0\.0\.1:\d+)/", line)
        if found:
            url = found.group(1)
            break
    if url is None:
        process.kill()
        raise AssertionError("the demo did not serve:\n" + "".join(seen) + log.read_text())
    process.stdout.readline()  # the sign-in line
    env["SYNCWRIGHT_HOME"] = str(folder / "demo" / ".syncwright")
    yield Demo(url=url, folder=folder, env=env)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0


@pytest.fixture(scope="module")
def browser():
    """Chromium for one module: Playwright's synchronous API keeps an event loop running in
    this thread while it is open, and the engine refuses to launch beside one."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


def sign_in(page, demo: Demo, email: str | None = None, password: str | None = None) -> str:
    """Sign in through the form; the workspace's base URL (``.../w/<id>``)."""
    page.goto(f"{demo.url}/login")
    page.get_by_label("E-mail").fill(email or demo.email)
    page.get_by_label("Password").fill(password or demo.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/w/[^/]+/syncs$"))
    return page.url.rsplit("/syncs", 1)[0]


@pytest.fixture
def page(browser, demo):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    yield opened
    context.close()
