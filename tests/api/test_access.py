"""Who may call what: each role against each workspace route (allowed, or 403 for a member
whose role is too low, or 404 for anyone outside the workspace), and no object of one
workspace reachable through another."""

from __future__ import annotations

import re
import uuid

import pytest
import yaml

from syncwright.api.app import create_api
from syncwright.domain.access import Role
from syncwright.domain.alerts import Verdict
from syncwright.domain.clock import utcnow
from syncwright.services.alerts import ChannelDoc, RuleDoc
from syncwright.services.config_file import ConnectionDoc, ModelDoc, SyncDoc, parse_config
from syncwright.services.report import Search

VIEWER, OPERATOR, ADMIN = Role.VIEWER, Role.OPERATOR, Role.ADMIN


def _planned_run(world, ws):
    runs = world.served.app.in_workspace(ws.id).runs.list(limit=500)
    return next(r.id for r in runs if r.status.value == "scheduled")


def _a_run(world, ws):
    return world.served.app.in_workspace(ws.id).runs.list(limit=1)[0].id


def _fresh_member(world, ws):
    email = f"member-{uuid.uuid4().hex[:8]}@example.com"
    user = world.served.app.accounts.create_user(email)
    world.served.app.accounts.grant(email, ws.name, Role.VIEWER)
    return user.id


def _unique(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _fresh(world, ws, kind):
    """A throwaway object of ``kind`` nothing uses, for the routes that delete one."""
    services = world.served.app.in_workspace(ws.id)
    docs = {
        "source": ConnectionDoc.model_validate({"type": "sql", "url": "sqlite://"}),
        "model": ModelDoc(
            source="a_products_src", query="SELECT * FROM products", primary_key=["id"]
        ),
        "destination": ConnectionDoc.model_validate(
            {"type": "sql", "url": "sqlite://", "table": "t"}
        ),
        "sync": SyncDoc(model="a_products_model", destination="a_products_dst"),
    }
    return services.objects.create(
        kind, _unique(f"throwaway_{kind}"), docs[kind], user_id=None, check_connections=False
    )


def _current(world, ws, kind):
    """The body that replaces an object by what it already is."""
    services = world.served.app.in_workspace(ws.id)
    if kind == "model":
        model = services.connections.models()[0]
        return {"source": "a_products_src", "query": model.query, "primary_key": ["id"]}
    found = (
        services.connections.sources() if kind == "source" else services.connections.destinations()
    )[0]
    return {"type": found.spec.type, **found.config}


#: Bodies made per call (names must be new each time).
BODIES = {
    "member": lambda world, ws: {"email": f"viewer-{ws.name}@example.com", "role": "viewer"},
    "document": lambda world, ws: {
        "syncs": {"matrix": {"model": "a_products_model", "destination": "a_products_dst"}}
    },
    "new source": lambda world, ws: {"name": _unique("src"), "type": "sql", "url": "sqlite://"},
    "new model": lambda world, ws: {
        "name": _unique("model"),
        "source": "a_products_src",
        "query": "SELECT * FROM products",
        "primary_key": "id",
    },
    "new destination": lambda world, ws: {
        "name": _unique("dst"),
        "type": "sql",
        "url": "sqlite://",
        "table": "t",
    },
    "new sync": lambda world, ws: {
        "name": _unique("sync"),
        "model": "a_products_model",
        "destination": "a_products_dst",
    },
    "sync": lambda world, ws: {"model": "a_products_model", "destination": "a_products_dst"},
    "current source": lambda world, ws: _current(world, ws, "source"),
    "current model": lambda world, ws: _current(world, ws, "model"),
    "current destination": lambda world, ws: _current(world, ws, "destination"),
    "new channel": lambda world, ws: {
        "name": _unique("channel"),
        "type": "slack",
        "url": "http://127.0.0.1:9/x",
    },
    "channel": lambda world, ws: {"type": "slack", "url": "http://127.0.0.1:9/y"},
    "new rule": lambda world, ws: {
        "name": _unique("rule"),
        "condition": "run_failed",
        "channels": ["matrix_channel"],
    },
    "rule": lambda world, ws: {
        "condition": "freshness",
        "max_age": "1d",
        "sync": "a_products",
        "channels": ["matrix_channel"],
    },
}


def _alerting(world, ws):
    """A channel, a rule and an alert of the workspace (made once)."""
    alerts = world.served.app.in_workspace(ws.id).alerts
    found = {c.name: c.id for c in alerts.channels()}
    if "matrix_channel" not in found:
        doc = ChannelDoc(type="slack", url="http://127.0.0.1:9/x")
        found["matrix_channel"] = alerts.create_channel("matrix_channel", doc, user_id=None)
        alerts.create_rule(
            "matrix_rule",
            RuleDoc(condition="run_failed", sync=min(ws.syncs), channels=["matrix_channel"]),
            user_id=None,
        )
    (rule,) = [r.rule for r in alerts.rules() if r.rule.name == "matrix_rule"]
    if not alerts.incidents(rule_id=rule.id):
        store = world.served.app.store
        store.alerts.open(rule, rule.sync_id, Verdict(firing=True, summary="staged"), utcnow())
    (alert,) = alerts.incidents(rule_id=rule.id)[:1]
    return {"channel": found["matrix_channel"], "rule": rule.id, "alert": alert.id}


def _fresh_alerting(world, ws, kind):
    alerts = world.served.app.in_workspace(ws.id).alerts
    if kind == "channel":
        doc = ChannelDoc(type="slack", url="http://127.0.0.1:9/x")
        return alerts.create_channel(_unique("channel"), doc, user_id=None)
    _alerting(world, ws)
    doc = RuleDoc(condition="run_incomplete", channels=["matrix_channel"])
    return alerts.create_rule(_unique("rule"), doc, user_id=None)


#: (method, path under the workspace, body, the role it needs, the status when allowed)
ROUTES = [
    ("GET", "", None, VIEWER, 200),
    ("GET", "/members", None, VIEWER, 200),
    ("PUT", "/members", "member", ADMIN, 200),
    ("DELETE", "/members/{member}", None, ADMIN, 204),
    ("POST", "/members/{member}/unlock", None, ADMIN, 200),
    ("GET", "/sources", None, VIEWER, 200),
    ("POST", "/sources?check=false", "new source", ADMIN, 201),
    ("GET", "/sources/{source}", None, VIEWER, 200),
    ("PUT", "/sources/{source}?check=false", "current source", ADMIN, 200),
    ("DELETE", "/sources/{fresh_source}", None, ADMIN, 204),
    ("POST", "/sources/{source}/check", None, OPERATOR, 200),
    ("GET", "/models", None, VIEWER, 200),
    ("POST", "/models", "new model", ADMIN, 201),
    ("GET", "/models/{model}", None, VIEWER, 200),
    ("PUT", "/models/{model}", "current model", ADMIN, 200),
    ("DELETE", "/models/{fresh_model}", None, ADMIN, 204),
    ("GET", "/models/{model}/preview", None, VIEWER, 200),
    ("GET", "/destinations", None, VIEWER, 200),
    ("POST", "/destinations?check=false", "new destination", ADMIN, 201),
    ("GET", "/destinations/{destination}", None, VIEWER, 200),
    ("PUT", "/destinations/{destination}?check=false", "current destination", ADMIN, 200),
    ("DELETE", "/destinations/{fresh_destination}", None, ADMIN, 204),
    ("POST", "/destinations/{destination}/check", None, OPERATOR, 200),
    ("GET", "/syncs", None, VIEWER, 200),
    ("POST", "/syncs", "new sync", ADMIN, 201),
    ("GET", "/syncs/{sync}", None, VIEWER, 200),
    ("PUT", "/syncs/{sync}", "sync", ADMIN, 200),
    ("PATCH", "/syncs/{sync}", {"labels": ["matrix"]}, ADMIN, 200),
    ("DELETE", "/syncs/{fresh_sync}", None, ADMIN, 204),
    ("POST", "/syncs/{sync}/disable", None, OPERATOR, 200),
    ("POST", "/syncs/{sync}/enable", None, OPERATOR, 200),
    ("POST", "/syncs/{sync}/runs", {}, OPERATOR, 202),
    ("POST", "/syncs/{sync}/dry-run", {"sample": 1}, OPERATOR, 200),
    ("POST", "/syncs/{hooked}/webhook", None, ADMIN, 200),
    ("GET", "/syncs/{feed_sync}/artifacts/latest", None, VIEWER, 200),
    ("GET", "/runs", None, VIEWER, 200),
    ("GET", "/runs/{run}", None, VIEWER, 200),
    ("POST", "/runs/{planned}/cancel", None, OPERATOR, 200),
    # The guard stopped no run of this world: an operator hears why it cannot approve.
    ("POST", "/runs/{run}/approve", None, OPERATOR, 422),
    ("GET", "/runs/{feed_run}/artifact", None, VIEWER, 200),
    ("GET", "/runs/{feed_run}/artifact/content", None, VIEWER, 200),
    ("GET", "/schedule", None, VIEWER, 200),
    ("GET", "/entries", None, VIEWER, 200),
    ("GET", "/entries/history?reference=SKU-1", None, VIEWER, 200),
    ("GET", "/entries/errors", None, VIEWER, 200),
    ("GET", "/entries/{entry}", None, VIEWER, 200),
    ("GET", "/entries/export.csv", None, VIEWER, 200),
    ("POST", "/entries/resync", {"sync": "a_products"}, OPERATOR, 202),
    ("POST", "/config?dry_run=true", "document", ADMIN, 200),
    ("GET", "/audit", None, ADMIN, 200),
    ("GET", "/alert-channels", None, VIEWER, 200),
    ("POST", "/alert-channels", "new channel", ADMIN, 201),
    ("GET", "/alert-channels/{channel}", None, VIEWER, 200),
    ("PUT", "/alert-channels/{channel}", "channel", ADMIN, 200),
    ("DELETE", "/alert-channels/{fresh_channel}", None, ADMIN, 204),
    ("POST", "/alert-channels/{channel}/test", None, ADMIN, 200),
    ("GET", "/alert-rules", None, VIEWER, 200),
    ("POST", "/alert-rules", "new rule", ADMIN, 201),
    ("GET", "/alert-rules/{rule}", None, VIEWER, 200),
    ("PUT", "/alert-rules/{rule}", "rule", ADMIN, 200),
    ("DELETE", "/alert-rules/{fresh_rule}", None, ADMIN, 204),
    ("GET", "/alerts", None, VIEWER, 200),
    ("GET", "/alerts/{alert}", None, VIEWER, 200),
]


def _call(world, client, ws, method, path, body):
    values = {
        "sync": ws.syncs["a_products"],
        "hooked": ws.syncs["c_planned"],
        "feed_sync": world.feed_sync,
        "feed_run": world.feed_run,
    }
    if "{run}" in path:
        values["run"] = _a_run(world, ws)
    if "{planned}" in path:
        values["planned"] = _planned_run(world, ws)
    if "{entry}" in path:
        services = world.served.app.in_workspace(ws.id)
        values["entry"] = services.report.page(Search(), limit=1).entries[0].id
    connections = world.served.app.in_workspace(ws.id).connections
    values["source"] = connections.sources()[0].spec.id
    values["model"] = connections.models()[0].id
    values["destination"] = connections.destinations()[0].spec.id
    if "{member}" in path:
        values["member"] = _fresh_member(world, ws)
    for kind in ("source", "model", "destination", "sync"):
        if f"{{fresh_{kind}}}" in path:
            values[f"fresh_{kind}"] = _fresh(world, ws, kind)
    if any(f"{{{k}}}" in path for k in ("channel", "rule", "alert")) or "rule" in str(body):
        values.update(_alerting(world, ws))
    for kind in ("channel", "rule"):
        if f"{{fresh_{kind}}}" in path:
            values[f"fresh_{kind}"] = _fresh_alerting(world, ws, kind)
    if isinstance(body, str):
        body = BODIES[body](world, ws)
    url = f"/api/v1/workspaces/{ws.id}" + path.format(**values)
    return client.request(method, url, json=body)


def test_the_matrix_covers_every_workspace_route():
    prefix = "/api/v1/workspaces/{workspace_id}"

    def shape(path):
        return re.sub(r"\{[^}]+\}", "{}", path.split("?")[0])

    covered = {(m, shape(p)) for m, p, *_ in ROUTES}
    spec = create_api(None).openapi()  # type: ignore[arg-type]
    every = {
        (method.upper(), shape(path[len(prefix) :]))
        for path, methods in spec["paths"].items()
        if path.startswith(prefix)
        for method in methods
    }
    assert every - covered == set()


@pytest.fixture(scope="module")
def started(world):
    """A run in each workspace, so run routes have one to read, and a file feed in alpha
    that published one file."""
    for ws in (world.alpha, world.beta):
        services = world.served.app.in_workspace(ws.id)
        first = next(iter(sorted(ws.syncs)))
        services.runs.wait(services.runs.trigger(first).id, timeout=60, poll=0.05)
    services = world.served.app.in_workspace(world.alpha.id)
    feed = {
        "destinations": {"feed": {"type": "file_feed", "directory": "feeds", "name": "matrix"}},
        "syncs": {"e_feed": {"model": "a_products_model", "destination": "feed"}},
    }
    services.configs.apply(parse_config(yaml.safe_dump(feed)), base_dir=world.folder)
    run = services.runs.wait(services.runs.trigger("e_feed").id, timeout=60, poll=0.05)
    world.feed_sync, world.feed_run = run.sync_id, run.id
    return world


@pytest.mark.parametrize(
    ("method", "path", "body", "needed", "allowed"),
    ROUTES,
    ids=[f"{m} {p or '/'}" for m, p, *_ in ROUTES],
)
def test_each_role_on_each_route(started, method, path, body, needed, allowed):
    world = started
    for role in Role:
        with world.as_(role) as client:
            answer = _call(world, client, world.alpha, method, path, body)
        expected = allowed if role.allows(needed) else 403
        assert answer.status_code == expected, (role, answer.text)
        if expected == 403:
            assert f"needs the {needed.value} role" in answer.json()["detail"]
    # an admin of another workspace does not even see this one
    with world.as_(ADMIN, "beta") as outsider:
        answer = _call(world, outsider, world.alpha, method, path, body)
    assert answer.status_code == 404, answer.text


def test_another_workspace_answers_exactly_as_a_missing_one(world):
    with world.as_(ADMIN) as c:
        beta = c.get(f"/api/v1/workspaces/{world.beta.id}/syncs")
        missing_id = str(uuid.uuid4())
        missing = c.get(f"/api/v1/workspaces/{missing_id}/syncs")
    assert beta.status_code == missing.status_code == 404
    assert beta.json()["detail"].replace(world.beta.id, "X") == missing.json()["detail"].replace(
        missing_id, "X"
    )


def test_no_object_of_one_workspace_through_another(started):
    world = started
    alpha, beta = world.alpha, world.beta
    beta_sync = beta.syncs["d_other"]
    beta_run = _a_run(world, beta)
    beta_member = beta.users[VIEWER]
    beta_things = world.served.app.in_workspace(beta.id).connections
    beta_source = beta_things.sources()[0].spec.id
    beta_model = beta_things.models()[0].id
    beta_destination = beta_things.destinations()[0].spec.id
    beta_alerting = _alerting(world, beta)
    through_alpha = [
        ("GET", f"/syncs/{beta_sync}", None),
        ("POST", f"/syncs/{beta_sync}/enable", None),
        ("POST", f"/syncs/{beta_sync}/disable", None),
        ("POST", f"/syncs/{beta_sync}/runs", {}),
        ("POST", f"/syncs/{beta_sync}/dry-run", {}),
        ("GET", f"/runs/{beta_run}", None),
        ("POST", f"/runs/{beta_run}/cancel", None),
        ("POST", f"/runs/{beta_run}/approve", None),
        ("GET", f"/runs?sync_id={beta_sync}", None),
        ("DELETE", f"/members/{beta_member}", None),
        ("POST", f"/members/{beta_member}/unlock", None),
        ("GET", f"/sources/{beta_source}", None),
        ("POST", f"/sources/{beta_source}/check", None),
        ("GET", f"/models/{beta_model}", None),
        ("GET", f"/models/{beta_model}/preview", None),
        ("GET", f"/destinations/{beta_destination}", None),
        ("POST", f"/destinations/{beta_destination}/check", None),
        ("PUT", f"/syncs/{beta_sync}", {"model": "d_other_model", "destination": "d_other_dst"}),
        ("PATCH", f"/syncs/{beta_sync}", {"folder": "stolen"}),
        ("DELETE", f"/syncs/{beta_sync}", None),
        ("PUT", f"/sources/{beta_source}?check=false", {"type": "sql", "url": "sqlite://"}),
        ("DELETE", f"/sources/{beta_source}", None),
        (
            "PUT",
            f"/models/{beta_model}",
            {"source": "d_other_src", "query": "SELECT 1", "primary_key": "id"},
        ),
        ("DELETE", f"/models/{beta_model}", None),
        (
            "PUT",
            f"/destinations/{beta_destination}?check=false",
            {"type": "sql", "url": "sqlite://", "table": "t"},
        ),
        ("DELETE", f"/destinations/{beta_destination}", None),
        ("POST", f"/syncs/{beta_sync}/webhook", None),
        ("GET", f"/alert-channels/{beta_alerting['channel']}", None),
        (
            "PUT",
            f"/alert-channels/{beta_alerting['channel']}",
            {"type": "slack", "url": "http://x/y"},
        ),
        ("DELETE", f"/alert-channels/{beta_alerting['channel']}", None),
        ("POST", f"/alert-channels/{beta_alerting['channel']}/test", None),
        ("GET", f"/alert-rules/{beta_alerting['rule']}", None),
        (
            "PUT",
            f"/alert-rules/{beta_alerting['rule']}",
            {"condition": "run_failed", "channels": ["matrix_channel"]},
        ),
        ("DELETE", f"/alert-rules/{beta_alerting['rule']}", None),
        ("GET", f"/alerts/{beta_alerting['alert']}", None),
        ("GET", f"/alerts?sync_id={beta_sync}", None),
    ]
    with world.as_(ADMIN) as c:
        for method, path, body in through_alpha:
            answer = c.request(method, f"/api/v1/workspaces/{alpha.id}{path}", json=body)
            assert answer.status_code == 404, (path, answer.text)
        listed = c.get(f"/api/v1/workspaces/{alpha.id}/runs", params={"limit": 500}).json()
        assert beta_run not in {r["id"] for r in listed["items"]}
        beta_entries = world.served.app.in_workspace(beta.id).report.page(run_id=beta_run)
        beta_ids = [e.id for e in beta_entries.entries]
        assert beta_ids
        entries = f"/api/v1/workspaces/{alpha.id}/entries"
        assert c.get(entries, params={"run_id": beta_run}).json()["items"] == []
        by_id = c.get(entries, params=[("entry_ids", i) for i in beta_ids]).json()["items"]
        assert by_id == []
        assert c.post(f"{entries}/resync", json={"entry_ids": beta_ids}).status_code == 404
        csv_text = c.get(f"{entries}/export.csv", params={"run_id": beta_run}).text
        assert len(csv_text.strip().splitlines()) == 1  # the header only
        listed = c.get(f"/api/v1/workspaces/{alpha.id}/alerts").json()["items"]
        assert beta_alerting["alert"] not in {a["id"] for a in listed}
        channels = c.get(f"/api/v1/workspaces/{alpha.id}/alert-channels").json()["items"]
        assert beta_alerting["channel"] not in {ch["id"] for ch in channels}
    # and nothing changed in beta
    services = world.served.app.in_workspace(beta.id)
    assert services.syncs.get(beta_sync).enabled
    assert services.syncs.get(beta_sync).folder is None
    assert services.connections.source(beta_source).config["url"] != "sqlite://"
    assert [r.id for r in services.runs.list(limit=500)] == [beta_run]
    assert world.served.app.accounts.members(beta.id)
    beta_alerts = services.alerts
    assert beta_alerts.channel(beta_alerting["channel"]).config["url"] != "http://x/y"
    assert beta_alerts.rule(beta_alerting["rule"]).rule.sync_id == beta_sync
