"""The pages over real HTTP on SQLite and PostgreSQL: each role on each page and form
(allowed, or 403; another workspace's member gets 404), another workspace's objects are not
found, forms need their CSRF token, and errors are pages."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx
import pytest

from syncwright.domain.access import Role
from syncwright.domain.alerts import Verdict
from syncwright.domain.clock import utcnow
from syncwright.domain.statuses import RunStatus
from syncwright.services.alerts import ChannelDoc, RuleDoc
from syncwright.services.config_file import parse_config
from syncwright.web.app import create_app
from tests.api.conftest import _workspace
from tests.integration.conftest import app, backend, settings  # noqa: F401 (fixtures)
from tests.support.catalogue import Catalogue
from tests.support.cli import wait_for
from tests.support.http_api import HttpApi
from tests.support.threaded_server import serving

PASSWORD = "pages-password"
VIEWER, OPERATOR, ADMIN = Role.VIEWER, Role.OPERATOR, Role.ADMIN


@dataclass
class Site:
    url: str
    alpha: object
    beta: object
    emails: dict[tuple[str, Role], str]
    run: str
    beta_run: str
    app: object


@pytest.fixture(scope="module")
def site(app, tmp_path_factory):  # noqa: F811 (the fixture imported above)
    folder = tmp_path_factory.mktemp("pages")
    alpha = _workspace(app, "alpha", folder, {"a_products": "", "b_prices": ""})
    beta = _workspace(app, "beta", folder, {"d_other": ""})
    emails = {}
    for label, ws in (("alpha", alpha), ("beta", beta)):
        for role in Role:
            email = app.store.accounts.user(ws.users[role]).email
            app.accounts.set_password(email, PASSWORD)
            emails[(label, role)] = email
    runs = []
    for ws in (alpha, beta):
        services = app.in_workspace(ws.id)
        first = sorted(ws.syncs)[0]
        runs.append(services.runs.wait(services.runs.trigger(first).id, timeout=60, poll=0.05).id)
    with serving(create_app(app)) as url:
        yield Site(
            url=url,
            alpha=alpha,
            beta=beta,
            emails=emails,
            run=runs[0],
            beta_run=runs[1],
            app=app,
        )


class Browser:
    """A signed-in HTTP client that sends each form with the page's CSRF token."""

    def __init__(self, site: Site, email: str) -> None:
        self.client = httpx.Client(base_url=site.url, timeout=30)
        form = self.client.get("/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        signed = self.client.post(
            "/login", data={"email": email, "password": PASSWORD, "csrf": token}
        )
        assert signed.status_code == 303, signed.text
        self.csrf = ""

    def get(self, path: str) -> httpx.Response:
        answer = self.client.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', answer.text)
        if found:
            self.csrf = found.group(1)
        return answer

    def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        if not self.csrf:
            self.get("/")
            self.get(self.client.get("/").headers.get("location", "/"))
        return self.client.post(path, data={"csrf": self.csrf, **(data or {})})


def as_(site: Site, role: Role, where: str = "alpha") -> Browser:
    return Browser(site, site.emails[(where, role)])


# (method, path, form, needed role): {sync} is a sync of alpha, {run} a run of alpha.
PAGES = [
    ("GET", "/syncs", None, VIEWER),
    ("GET", "/syncs/{sync}", None, VIEWER),
    ("GET", "/syncs/{sync}/delete", None, ADMIN),
    ("POST", "/syncs/{sync}/run", {}, OPERATOR),
    ("POST", "/syncs/{sync}/enabled", {"enabled": "on"}, OPERATOR),
    ("POST", "/syncs/{sync}/organise", {"folder": "f", "labels": "a, b"}, ADMIN),
    ("GET", "/runs", None, VIEWER),
    ("POST", "/runs", {"sync": "{sync}"}, OPERATOR),
    ("GET", "/runs/{run}", None, VIEWER),
    ("GET", "/report", None, VIEWER),
    ("GET", "/report?status=failed&sort=reference&order=asc&cols=latest", None, VIEWER),
    ("GET", "/report/export.csv", None, VIEWER),
    ("GET", "/report/history?reference=SKU-1", None, VIEWER),
    ("POST", "/report/resync?sync={sync}", {"scope": "all"}, OPERATOR),
    ("GET", "/alerts", None, VIEWER),
    ("GET", "/alerts?state=open", None, VIEWER),
    ("GET", "/alerts/{alert}", None, VIEWER),
    (
        "POST",
        "/alerts/channels",
        {"name": "{unique}", "type": "slack", "url": "http://127.0.0.1:9/x"},
        ADMIN,
    ),
    ("POST", "/alerts/channels/{channel}/test", {}, ADMIN),
    ("POST", "/alerts/channels/{fresh_channel}/delete", {}, ADMIN),
    (
        "POST",
        "/alerts/rules",
        {"name": "{unique}", "condition": "freshness", "threshold": "6h", "channels": "pages"},
        ADMIN,
    ),
    ("POST", "/alerts/rules/{rule}/enabled", {"enabled": "on"}, ADMIN),
    ("POST", "/alerts/rules/{fresh_rule}/delete", {}, ADMIN),
]


def _alerting(app, ws) -> dict[str, str]:  # noqa: F811 (the fixture's name)
    """A channel ``pages``, a rule and an alert of the workspace (made once), and a channel
    and a rule nothing needs (made each time, for the forms that delete one)."""
    alerts = app.in_workspace(ws.id).alerts
    channels = {c.name: c.id for c in alerts.channels()}
    if "pages" not in channels:
        slack = ChannelDoc(type="slack", url="http://127.0.0.1:9/x")
        channels["pages"] = alerts.create_channel("pages", slack, user_id=None)
        rule = RuleDoc(condition="volume", deviation=0.5, sync=min(ws.syncs), channels=["pages"])
        alerts.create_rule("pages", rule, user_id=None)
    (rule,) = [r.rule for r in alerts.rules() if r.rule.name == "pages"]
    if not alerts.incidents(rule_id=rule.id):
        app.store.alerts.open(rule, rule.sync_id, Verdict(firing=True, summary="staged"), utcnow())
    unique = f"x{uuid.uuid4().hex[:8]}"
    spare = ChannelDoc(type="slack", url="http://127.0.0.1:9/y")
    return {
        "channel": channels["pages"],
        "rule": rule.id,
        "alert": alerts.incidents(rule_id=rule.id)[0].id,
        "unique": unique,
        "fresh_channel": alerts.create_channel(f"{unique}-c", spare, user_id=None),
        "fresh_rule": alerts.create_rule(
            f"{unique}-r", RuleDoc(condition="run_failed", channels=["pages"]), user_id=None
        ),
    }


def _call(browser: Browser, site: Site, method: str, path: str, form):
    values = {"sync": site.alpha.syncs["b_prices"], "run": site.run}
    if "alerts" in path:
        values.update(_alerting(site.app, site.alpha))
    target = f"/w/{site.alpha.id}" + path.format(**values)
    if method == "GET":
        return browser.get(target)
    browser.get(f"/w/{site.alpha.id}/syncs")  # a page of alpha, for its form token
    data = {k: v.format(**values) for k, v in (form or {}).items()}
    return browser.post(target, data)


@pytest.mark.parametrize(
    ("method", "path", "form", "needed"), PAGES, ids=[f"{m} {p}" for m, p, *_ in PAGES]
)
def test_each_role_on_each_page(site, method, path, form, needed):
    for role in Role:
        answer = _call(as_(site, role), site, method, path, form)
        if role.allows(needed):
            assert answer.status_code in (200, 303), (role, answer.text[:500])
            assert "/login" not in answer.headers.get("location", "")
        else:
            assert answer.status_code == 403, (role, answer.text[:500])
            assert f"needs the {needed.value} role" in answer.text
    # a member of another workspace does not see this one
    outsider = as_(site, ADMIN, "beta")
    outsider.get(f"/w/{site.beta.id}/syncs")
    assert _call(outsider, site, method, path, form).status_code == 404


def test_another_workspaces_objects_are_not_found(site):
    admin = as_(site, ADMIN)
    alpha = f"/w/{site.alpha.id}"
    other_sync = site.beta.syncs["d_other"]
    assert admin.get(f"{alpha}/syncs/{other_sync}").status_code == 404
    assert admin.get(f"{alpha}/runs/{site.beta_run}").status_code == 404
    assert admin.get(f"{alpha}/runs?sync={other_sync}").status_code == 404
    admin.get(f"{alpha}/syncs")
    assert admin.post(f"{alpha}/syncs/{other_sync}/run").status_code == 404
    assert admin.post(f"{alpha}/runs/{site.beta_run}/cancel").status_code == 404
    assert admin.get(f"{alpha}/report?sync={other_sync}").status_code == 404
    assert admin.get(f"{alpha}/report?run={site.beta_run}").status_code == 200
    assert "d_other" not in admin.get(f"{alpha}/report?run={site.beta_run}").text
    # the overview and the synchronisations list only this workspace's
    assert "d_other" not in admin.get(f"{alpha}/syncs").text
    assert "d_other" not in admin.get(f"{alpha}/runs").text
    # nor are another workspace's alerts, rules and channels
    beta = _alerting(site.app, site.beta)
    assert admin.get(f"{alpha}/alerts/{beta['alert']}").status_code == 404
    assert "d_other" not in admin.get(f"{alpha}/alerts").text
    for form in (
        f"/channels/{beta['channel']}/test",
        f"/channels/{beta['fresh_channel']}/delete",
        f"/rules/{beta['rule']}/enabled",
        f"/rules/{beta['fresh_rule']}/delete",
    ):
        assert admin.post(f"{alpha}/alerts{form}", {"enabled": "off"}).status_code == 404, form
    assert site.app.in_workspace(site.beta.id).alerts.rule(beta["rule"]).rule.enabled
    # a missing workspace and another's answer alike
    assert admin.get(f"/w/{site.beta.id}/syncs").status_code == 404
    assert admin.get("/w/00000000-0000-0000-0000-000000000000/syncs").status_code == 404


def test_forms_need_the_session_token_and_a_session(site):
    admin = as_(site, ADMIN)
    target = f"/w/{site.alpha.id}/syncs/{site.alpha.syncs['b_prices']}/enabled"
    forged = admin.client.post(target, data={"csrf": "x", "enabled": "off"})
    assert forged.status_code == 403 and "security token" in forged.text
    assert admin.client.post(target, data={"enabled": "off"}).status_code == 403
    anonymous = httpx.post(site.url + target, data={"enabled": "off"})
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
    # none of these turned the sync off
    assert "Enabled: turn off" in admin.get(target.rsplit("/", 1)[0]).text


def test_the_login_is_checked_and_ends_with_sign_out(site):
    client = httpx.Client(base_url=site.url)
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    email = site.emails[("alpha", VIEWER)]
    wrong = client.post("/login", data={"email": email, "password": "nope", "csrf": token})
    assert wrong.status_code == 401 and "Wrong e-mail or password" in wrong.text
    stale = httpx.post(site.url + "/login", data={"email": email, "password": PASSWORD})
    assert stale.status_code == 403  # no login form token
    offsite = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf": token, "next": "//evil.example/x"},
    )
    # only the path is kept: the browser stays on this site
    assert offsite.status_code == 303 and offsite.headers["location"] == "/x"
    home = client.get("/")
    assert home.headers["location"] == f"/w/{site.alpha.id}/syncs"
    syncs = client.get(home.headers["location"])
    csrf = re.search(r'name="csrf" value="([^"]+)"', syncs.text).group(1)
    assert client.post("/logout", data={"csrf": csrf}).status_code == 303
    after = client.get(f"/w/{site.alpha.id}/syncs")
    assert after.status_code == 303 and after.headers["location"].startswith("/login?next=")


def test_bad_values_are_pages_naming_the_field(site):
    viewer = as_(site, VIEWER)
    alpha = f"/w/{site.alpha.id}"
    for path, said in (
        ("/runs?status=bogus", "status"),
        ("/runs?sort=nope", "sort"),
        ("/report?sort=nope", "sort"),
        ("/report?status=bogus", "status"),
        ("/report?days=-1", "days"),
        ("/report?cursor=garbage", "cursor"),
        ("/runs?page=0", "page"),
        ("/runs?days=soon", "days"),
    ):
        answer = viewer.get(alpha + path)
        assert answer.status_code == 422, (path, answer.text[:300])
        assert said in answer.text and "Traceback" not in answer.text
        assert answer.headers["content-type"].startswith("text/html")


def test_empty_form_fields_mean_no_filter(site):
    viewer = as_(site, VIEWER)
    alpha = f"/w/{site.alpha.id}"
    for path in (
        "/runs?status=&sync=&type=&trigger=&days=&sort=created_at&order=desc",
        "/report?reference=&system=&sync=&run=&group=&days=&sort=id&order=desc",
    ):
        answer = viewer.get(alpha + path)
        assert answer.status_code == 200, (path, answer.text[:300])
    everything = viewer.get(f"{alpha}/runs?days=").text
    assert everything.count("data-run=") == viewer.get(f"{alpha}/runs").text.count("data-run=")


def test_pages_need_nothing_from_another_site(site):
    viewer = as_(site, VIEWER)
    alpha = f"/w/{site.alpha.id}"
    for path in ("/syncs", f"/syncs/{site.alpha.syncs['a_products']}", "/runs", "/report"):
        page = viewer.get(alpha + path).text
        assert not re.findall(r'(?:src|href)="(?:https?:)?//', page), path
        assert '<script src="/static/app.js"' in page
    assert viewer.client.get("/static/app.js").status_code == 200
    assert viewer.client.get("/static/app.css").status_code == 200


def test_every_response_carries_the_browsers_security_headers(site):
    """Pages (an error page too), the API (an answer and a problem), static files, the API
    docs and a refused body: each forbids inline scripts and framing, and sniffing, and sends
    other sites no referrer. No page relies on an inline script, handler or javascript: URL."""
    viewer = as_(site, VIEWER)
    alpha = f"/w/{site.alpha.id}"
    pages = {
        path: viewer.get(path)
        for path in (f"{alpha}/syncs", f"{alpha}/runs/{site.run}", f"{alpha}/runs/no-such-run")
    }
    assert [a.status_code for a in pages.values()] == [200, 200, 404]
    anonymous = httpx.Client(base_url=site.url, timeout=30)
    answers = {
        **pages,
        "login": anonymous.get("/login"),
        "health": anonymous.get("/healthz"),
        "problem": anonymous.get("/api/v1/me"),
        "script": anonymous.get("/static/app.js"),
        "style": anonymous.get("/static/app.css"),
        "docs": anonymous.get("/docs"),
        "docs script": anonymous.get("/docs/init.js"),
        "swagger": anonymous.get("/docs/assets/swagger-ui-bundle.js"),
        "too large": anonymous.post("/api/v1/me/tokens", content=b"x" * (1024 * 1024 + 1)),
    }
    assert answers["problem"].status_code == 401 and answers["too large"].status_code == 413
    for name, answer in answers.items():
        headers = answer.headers
        policy = dict(
            (part.split(" ", 1) + [""])[:2]
            for part in headers.get("content-security-policy", "").split("; ")
        )
        assert policy.get("script-src") == "'self'", name
        assert policy.get("default-src") == "'self'" and policy.get("object-src") == "'none'"
        assert policy.get("frame-ancestors") == "'none'", name
        assert headers.get("x-frame-options") == "DENY", name
        assert headers.get("x-content-type-options") == "nosniff", name
        assert headers.get("referrer-policy") == "same-origin", name
    for name in (*pages, "login", "docs"):
        html = answers[name].text
        assert re.findall(r"<script\b[^>]*>", html), name  # scripts there are, all files
        assert not re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", html), name
        assert not re.findall(r"\son[a-z]+=|javascript:|\sstyle=|<style", html, re.I), name
    assert answers["docs script"].headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle(" in answers["docs script"].text


def test_a_live_run_shows_its_progress_and_can_be_cancelled(site, app, tmp_path):  # noqa: F811
    """A run to an HTTP API that holds it after 10 items: its page shows the stage, items
    done of the total, rate and time left while it goes, and an operator's Cancel ends it."""
    api = HttpApi()
    shop = Catalogue(tmp_path / "slow.db")
    shop.put(*({"id": i} for i in range(1, 201)))
    services = app.in_workspace(site.alpha.id)
    services.configs.apply(
        parse_config(
            f"""
sources: {{slow_src: {{type: sql, url: "{shop.url}"}}}}
models: {{slow_model: {{source: slow_src, query: "SELECT * FROM products", primary_key: id}}}}
destinations: {{slow_api: {{type: http, url: "{api.url}/items", batch_size: 1, concurrency: 1}}}}
syncs: {{slow_sync: {{model: slow_model, destination: slow_api, batch_size: 5}}}}
"""
        ),
        base_dir=tmp_path,
    )
    try:
        api.hold(after=10)  # two batches go through; the run stays live on the third
        run = services.runs.trigger("slow_sync")
        wait_for(lambda: api.held and services.runs.get(run.id).counters.ok == 10, timeout=60)
        operator = as_(site, OPERATOR)
        page = operator.get(f"/w/{site.alpha.id}/runs/{run.id}")
        assert 'data-status="in_progress"' in page.text
        assert "<progress" in page.text and " of 200 items" in page.text
        assert "items/s" in page.text and "left" in page.text
        assert 'data-refresh="2"' in page.text  # follows itself while live
        viewer = as_(site, VIEWER).get(f"/w/{site.alpha.id}/runs/{run.id}")
        assert "Cancel run" not in viewer.text  # a viewer sees no button
        cancelled = operator.post(f"/w/{site.alpha.id}/runs/{run.id}/cancel")
        assert cancelled.status_code == 303
        api.release()
        ended = services.runs.wait(run.id, timeout=60, poll=0.05)
        assert ended.status is RunStatus.ABORTED and ended.counters.problems() == []
        # The batch that was out is recorded: the page stops following the run.
        settled = wait_for(
            lambda: (r := services.runs.get(run.id)).infos.get("settling") is False and r,
            timeout=60,
        )
        assert settled.counters.problems() == [] and settled.counters.not_sent > 0
        final = operator.get(f"/w/{site.alpha.id}/runs/{run.id}").text
        assert 'data-status="aborted"' in final and "data-refresh" not in final
        assert "Every item is accounted for." in final
    finally:
        api.close()


def test_a_run_the_guard_stopped_is_approved_from_its_page(site, app, tmp_path):  # noqa: F811
    shop = Catalogue(tmp_path / "guarded.db")
    shop.put(*({"id": i} for i in range(1, 11)))
    services = app.in_workspace(site.alpha.id)
    services.configs.apply(
        parse_config(
            f"""
sources: {{g_src: {{type: sql, url: "{shop.url}"}}}}
models: {{g_model: {{source: g_src, query: "SELECT * FROM products", primary_key: id}}}}
destinations: {{g_dst: {{type: sql, url: "sqlite:///{tmp_path / "g.db"}", table: products}}}}
syncs: {{guarded: {{model: g_model, destination: g_dst, guard: {{max_change_share: 0.2}}}}}}
"""
        ),
        base_dir=tmp_path,
    )
    services.runs.wait(services.runs.trigger("guarded").id, timeout=60, poll=0.05)
    shop.put(*({"id": i, "price": 3.0} for i in range(1, 6)))
    stopped = services.runs.wait(services.runs.trigger("guarded").id, timeout=60, poll=0.05)
    assert stopped.status is RunStatus.FAILED
    page = f"/w/{site.alpha.id}/runs/{stopped.id}"
    seen = as_(site, VIEWER).get(page).text
    assert "Stopped by the sync's guard" in seen and "would change or remove 5 of 10" in seen
    assert "Approve and continue" not in seen  # a viewer sees no button
    operator = as_(site, OPERATOR)
    assert "Approve and continue" in operator.get(page).text
    approved = operator.post(f"{page}/approve")
    assert approved.status_code == 303
    new_id = approved.headers["location"].rsplit("/", 1)[1]
    done = services.runs.wait(new_id, timeout=60, poll=0.05)
    assert done.status is RunStatus.SUCCEEDED and done.counters.changed == 5
    after = operator.get(page).text
    assert "Approve and continue" not in after and f"/runs/{new_id}" in after
