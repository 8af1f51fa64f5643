"""Alerts end to end on the real engine: rules judged as runs end and as time passes, one
notice per incident and one on recovery, to a signed webhook, a Slack-compatible webhook and
e-mail (real servers on loopback); a channel that is down is tried again, then recorded
undelivered, and the others still get their notices."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3

import pytest

from syncwright.bootstrap.app import App, EngineRole
from syncwright.bootstrap.settings import Settings
from syncwright.domain.alerts import DeliveryStatus, Event, Verdict
from syncwright.domain.clock import utcnow
from syncwright.domain.errors import ConfigError, Conflict
from syncwright.domain.statuses import RunStatus
from syncwright.services.alerts import ChannelDoc, RuleDoc
from syncwright.services.config_file import parse_config
from tests.integration.conftest import _ids
from tests.support.catalogue import Catalogue, configure, run_sync
from tests.support.cli import wait_for
from tests.support.http_api import Answer, HttpApi
from tests.support.smtp_server import SmtpServer

SECRET = "a-secret-of-sixteen-or-more"


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def settings(backend, request, tmp_path_factory, smtp):
    home = tmp_path_factory.mktemp(f"alerts-{backend}")
    env = {
        "SYNCWRIGHT_HOME": str(home),
        "SYNCWRIGHT_POLL_INTERVAL": "0.05",
        "SYNCWRIGHT_ALERT_INTERVAL": "0.2",
        "SYNCWRIGHT_ALERT_RETRIES": "2",
        "SYNCWRIGHT_ALERT_RETRY_DELAY": "0.05",
        "SYNCWRIGHT_SMTP_HOST": "127.0.0.1",
        "SYNCWRIGHT_SMTP_PORT": str(smtp.port),
        "SYNCWRIGHT_SMTP_FROM": "alerts@example.com",
        "SYNCWRIGHT_PUBLIC_URL": "https://sync.example.com/",
    }
    if backend == "postgres":
        server = request.getfixturevalue("postgres")
        env["SYNCWRIGHT_DATABASE_URL"] = server.create_database(f"alerts_{next(_ids)}")
    return Settings.from_env(env)


@pytest.fixture(scope="module")
def app(settings):
    with App(settings, role=EngineRole.EXECUTE) as launched:
        yield launched


@pytest.fixture
def hook():
    server = HttpApi()
    yield server
    server.close()


def watch(app, name: str, hook, condition: str, **settings) -> str:
    """A rule on sync ``name`` notifying a signed webhook to ``hook``; the rule's id."""
    alerts = app.in_workspace(app.workspace_id).alerts
    doc = ChannelDoc(type="webhook", url=hook.url, secret=SECRET)
    alerts.create_channel(f"{name}-h", doc, user_id=None)
    rule = RuleDoc(condition=condition, sync=name, channels=[f"{name}-h"], **settings)
    return alerts.create_rule(f"{name}-r", rule, user_id=None)


def _feed(shop: Catalogue, present: bool) -> None:
    """The model reads the view ``feed``; without it, the source fails."""
    with sqlite3.connect(shop.path) as conn:
        conn.execute("DROP VIEW IF EXISTS feed")
        if present:
            conn.execute("CREATE VIEW feed AS SELECT * FROM products")


def _settled(app, incident_id):
    """The incident once none of its notices waits any more."""

    def check():
        found = app.in_workspace(app.workspace_id).alerts.incident(incident_id)
        waiting = [d for d in found.deliveries if d.status is DeliveryStatus.PENDING]
        return found if found.deliveries and not waiting else None

    return wait_for(check)


def judged(app, alerts, rule_id: str) -> list:
    """The rule's incidents after a judgement made now, in the test's thread (the engine
    makes the same every interval), once none of their notices waits any more: what that
    judgement did not do was not done, rather than not yet."""
    app.engine.alerting.judge(utcnow())
    app.engine.alerting.send_due(utcnow())

    def check():
        found = alerts.incidents(rule_id=rule_id)
        waiting = [
            d
            for i in found
            for d in alerts.incident(i.id).deliveries
            if d.status is DeliveryStatus.PENDING
        ]
        return None if waiting else (found,)

    return wait_for(check)[0]


def test_a_failing_sync_notifies_once_per_incident_and_on_recovery(
    app, name, tmp_path, dest_url, hook, smtp
):
    alerts = app.in_workspace(app.workspace_id).alerts
    slack = HttpApi()
    shop = Catalogue(tmp_path / "shop.db")
    shop.put({"id": 1}, {"id": 2})
    _feed(shop, True)
    configure(
        app,
        name,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp_path,
        query="SELECT * FROM feed",
    )
    alerts.create_channel(
        f"{name}-hook",
        ChannelDoc(type="webhook", url=f"{hook.url}/alerts", secret=SECRET),
        user_id=None,
    )
    alerts.create_channel(
        f"{name}-slack", ChannelDoc(type="slack", url=f"{slack.url}/T/B/x"), user_id=None
    )
    alerts.create_channel(
        f"{name}-mail", ChannelDoc(type="email", to=["oncall@example.com"]), user_id=None
    )
    rule_id = alerts.create_rule(
        f"{name}-failed",
        RuleDoc(
            condition="run_failed",
            sync=name,
            channels=[f"{name}-hook", f"{name}-slack", f"{name}-mail"],
        ),
        user_id=None,
    )
    mails_before = len(smtp.messages)
    assert run_sync(app, name).status is RunStatus.SUCCEEDED

    _feed(shop, False)
    first = run_sync(app, name)
    assert first.status is RunStatus.FAILED
    opened = wait_for(lambda: alerts.incidents(rule_id=rule_id))
    assert len(opened) == 1 and opened[0].is_open and opened[0].run_id == first.id
    assert "no such table: feed" in opened[0].summary
    incident = _settled(app, opened[0].id)
    assert {(d.channel_name, d.event, d.status) for d in incident.deliveries} == {
        (f"{name}-{c}", Event.FIRING, DeliveryStatus.DELIVERED) for c in ("hook", "slack", "mail")
    }
    # A second failure is the same incident: no new notice.
    assert run_sync(app, name).status is RunStatus.FAILED
    assert len(judged(app, alerts, rule_id)) == 1 and len(hook.requests) == 1

    _feed(shop, True)
    assert run_sync(app, name).status is RunStatus.SUCCEEDED
    closed = wait_for(lambda: [i for i in alerts.incidents(rule_id=rule_id) if not i.is_open])
    assert closed and closed[0].id == incident.id
    incident = _settled(app, incident.id)
    assert len(incident.deliveries) == 6 and all(
        d.status is DeliveryStatus.DELIVERED for d in incident.deliveries
    )

    # The webhook: JSON, signed with HMAC-SHA256 over "<timestamp>.<body>".
    assert [r.body["event"] for r in hook.requests] == ["alert.firing", "alert.resolved"]
    for request in hook.requests:
        sent = request.headers["x-syncwright-signature"]
        body = request.raw
        stamp = request.headers["x-syncwright-timestamp"].encode()
        good = hmac.new(SECRET.encode(), stamp + b"." + body, hashlib.sha256).hexdigest()
        assert sent == f"sha256={good}"
    firing = hook.requests[0].body
    assert firing["sync"] == {
        "id": app.store.config.sync_by_name(app.workspace_id, name).id,
        "name": name,
    }
    assert firing["run_id"] == first.id and firing["rule"]["condition"] == "run_failed"
    assert firing["url"] == f"https://sync.example.com/w/{app.workspace_id}/runs/{first.id}"
    # Slack: text.
    texts = [r.body["text"] for r in slack.requests]
    assert texts[0].startswith(f"[syncwright] FIRING: {name}-failed on sync {name}")
    assert texts[1].startswith("[syncwright] RESOLVED") and "succeeded" in texts[1]
    # E-mail.
    mails = smtp.messages[mails_before:]
    assert [m["Subject"].split(":")[0] for m in mails] == [
        "[syncwright] FIRING",
        "[syncwright] RESOLVED",
    ]
    assert mails[0]["To"] == "oncall@example.com" and mails[0]["From"] == "alerts@example.com"
    assert "no such table: feed" in mails[0].get_content()
    slack.close()


def test_a_channel_that_is_down_is_retried_then_recorded_undelivered(
    app, name, tmp_path, dest_url, hook
):
    alerts = app.in_workspace(app.workspace_id).alerts
    hook.handler = lambda request: Answer(status=503, body={"error": "maintenance"})
    good = HttpApi()
    shop = Catalogue(tmp_path / "shop.db")
    shop.put({"id": 1})
    _feed(shop, True)
    configure(
        app,
        name,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp_path,
        query="SELECT * FROM feed",
    )
    _feed(shop, False)  # applied while it ran; its runs fail now
    alerts.create_channel(
        f"{name}-down", ChannelDoc(type="webhook", url=hook.url, secret=SECRET), user_id=None
    )
    alerts.create_channel(f"{name}-up", ChannelDoc(type="slack", url=good.url), user_id=None)
    rule_id = alerts.create_rule(
        f"{name}-r",
        RuleDoc(condition="run_failed", sync=name, channels=[f"{name}-down", f"{name}-up"]),
        user_id=None,
    )
    assert run_sync(app, name).status is RunStatus.FAILED
    opened = wait_for(lambda: alerts.incidents(rule_id=rule_id))
    incident = _settled(app, opened[0].id)
    by_channel = {d.channel_name: d for d in incident.deliveries}
    down = by_channel[f"{name}-down"]
    assert down.status is DeliveryStatus.UNDELIVERED and down.attempts == 3  # 1 + 2 retries
    assert down.last_error == "HTTP 503 Service Unavailable: maintenance"
    assert len(hook.requests) == 3
    assert by_channel[f"{name}-up"].status is DeliveryStatus.DELIVERED and len(good.requests) == 1
    good.close()


def test_freshness_fires_when_no_run_succeeds_in_time(app, name, tmp_path, dest_url, hook):
    alerts = app.in_workspace(app.workspace_id).alerts
    shop = Catalogue(tmp_path / "shop.db")
    shop.put({"id": 1})
    configure(app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path)
    rule_id = watch(app, name, hook, "freshness", max_age="2s")
    opened = wait_for(lambda: alerts.incidents(rule_id=rule_id))
    assert "no run succeeded" in opened[0].summary
    assert run_sync(app, name).status is RunStatus.SUCCEEDED
    assert wait_for(lambda: not alerts.incidents(rule_id=rule_id)[0].is_open)
    wait_for(lambda: len(hook.requests) == 2)
    assert [r.body["event"] for r in hook.requests] == ["alert.firing", "alert.resolved"]


def test_a_workspace_rule_watches_every_sync_and_deleted_ones_close_quietly(
    app, name, tmp_path, dest_url, hook
):
    ws_id = app.store.config.ensure_workspace(f"{name}-ws")
    ws = app.in_workspace(ws_id)
    shop = Catalogue(tmp_path / "shop.db")
    shop.put({"id": 1})
    _feed(shop, True)
    for sync in ("one", "two"):
        ws.configs.apply(
            parse_config(
                f"""
sources: {{src: {{type: sql, url: "{shop.url}"}}}}
models: {{m: {{source: src, query: "SELECT * FROM feed", primary_key: id}}}}
destinations: {{d_{sync}: {{type: sql, url: "{dest_url}", table: t_{sync}}}}}
syncs: {{{sync}: {{model: m, destination: d_{sync}}}}}
"""
            ),
            base_dir=tmp_path,
        )
    _feed(shop, False)  # applied while it ran; its runs fail now
    ws.alerts.create_channel(
        "h", ChannelDoc(type="webhook", url=hook.url, secret=SECRET), user_id=None
    )
    rule_id = ws.alerts.create_rule(
        "any-failure", RuleDoc(condition="run_failed", channels=["h"]), user_id=None
    )
    for sync in ("one", "two"):
        run = ws.runs.trigger(sync)
        assert ws.runs.wait(run.id, timeout=60, poll=0.05).status is RunStatus.FAILED
    found = wait_for(
        lambda: (
            len(ws.alerts.incidents(rule_id=rule_id)) == 2 and ws.alerts.incidents(rule_id=rule_id)
        )
    )
    assert sorted(i.sync_name for i in found) == ["one", "two"]
    # Not visible from the other workspace.
    assert not app.in_workspace(app.workspace_id).alerts.incidents(rule_id=rule_id)
    wait_for(lambda: len(hook.requests) == 2)
    # Deleting the rule closes its incidents with no recovery notice.
    ws.alerts.delete_rule(rule_id, user_id=None)
    assert wait_for(lambda: all(not i.is_open for i in ws.alerts.incidents(rule_id=rule_id)))
    closed = judged(app, ws.alerts, rule_id)
    assert len(hook.requests) == 2
    assert {i.resolution for i in closed} == {"the rule was deleted or turned off"}


def test_an_incident_opens_once_whoever_judges(app, name, tmp_path, dest_url):
    # (The sync never runs, so the engine's own judgements leave the incident alone.)
    alerts = app.in_workspace(app.workspace_id).alerts
    shop = Catalogue(tmp_path / "shop.db")
    shop.put({"id": 1})
    configure(app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path)
    alerts.create_channel(
        f"{name}-h", ChannelDoc(type="slack", url="http://127.0.0.1:9/x"), user_id=None
    )
    rule_id = alerts.create_rule(
        f"{name}-r",
        RuleDoc(condition="run_failed", sync=name, channels=[f"{name}-h"]),
        user_id=None,
    )
    rule = app.store.alerts.rule(app.workspace_id, rule_id)
    sync_id = app.store.config.sync_by_name(app.workspace_id, name).id
    verdict = Verdict(firing=True, summary="x")
    assert app.store.alerts.open(rule, sync_id, verdict, utcnow()) is not None
    assert app.store.alerts.open(rule, sync_id, verdict, utcnow()) is None
    (incident,) = alerts.incidents(rule_id=rule_id)
    assert app.store.alerts.close(incident.id, "ok", utcnow(), rule.channel_ids)
    assert not app.store.alerts.close(incident.id, "ok", utcnow(), rule.channel_ids)
    assert [d.event for d in alerts.incident(incident.id).deliveries] == [
        Event.FIRING,
        Event.RESOLVED,
    ]


def test_bad_channels_and_rules_are_refused_naming_the_field(app, name):
    alerts = app.in_workspace(app.workspace_id).alerts
    cases = [
        (ChannelDoc(type="webhook", url="ftp://x", secret=SECRET), "url"),
        (ChannelDoc(type="webhook", url="http://x"), "secret"),
        (ChannelDoc(type="slack"), "url"),
        (ChannelDoc(type="slack", url="http://x", to=["a@b.c"]), "to"),
        (ChannelDoc(type="email", to=["not an address"]), "to"),
    ]
    for doc, field in cases:
        with pytest.raises(ConfigError) as found:
            alerts.create_channel(f"{name}-bad", doc, user_id=None)
        assert found.value.field == field, doc
    alerts.create_channel(f"{name}-ok", ChannelDoc(type="slack", url="http://x/y"), user_id=None)
    with pytest.raises(Conflict):
        alerts.create_channel(
            f"{name}-ok", ChannelDoc(type="slack", url="http://x/y"), user_id=None
        )
    rules = [
        (RuleDoc(condition="freshness", channels=[f"{name}-ok"]), "max_age"),
        (RuleDoc(condition="run_failed", channels=[f"{name}-ok"], max_age="1h"), "max_age"),
        (RuleDoc(condition="run_failed", channels=["nope"]), "channels"),
        (RuleDoc(condition="run_failed", sync="nope", channels=[f"{name}-ok"]), "sync"),
        (
            RuleDoc(condition="duration", max_duration="soon", channels=[f"{name}-ok"]),
            "max_duration",
        ),
        (
            RuleDoc(condition="volume", deviation=0.5, lookback=1, channels=[f"{name}-ok"]),
            "lookback",
        ),
    ]
    for doc, field in rules:
        with pytest.raises(ConfigError) as found:
            alerts.create_rule(f"{name}-bad", doc, user_id=None)
        assert found.value.field == field, doc
    rule_id = alerts.create_rule(
        f"{name}-r", RuleDoc(condition="run_failed", channels=[f"{name}-ok"]), user_id=None
    )
    (channel,) = [c for c in alerts.channels() if c.name == f"{name}-ok"]
    with pytest.raises(Conflict, match=f"{name}-r"):
        alerts.delete_channel(channel.id, user_id=None)
    alerts.delete_rule(rule_id, user_id=None)
    alerts.delete_channel(channel.id, user_id=None)


def _http_sync(app, name, shop, api, tmp_path):
    text = f"""
sources: {{{name}_src: {{type: sql, url: "{shop.url}"}}}}
models:
  {name}_model: {{source: {name}_src, query: "SELECT * FROM products", primary_key: id, reference: sku}}
destinations:
  {name}_dst: {{type: http, url: "{api.url}/items", batch_size: 50, results_path: results}}
syncs:
  {name}: {{model: {name}_model, destination: {name}_dst, retry: {{retries: 0}}}}
"""
    app.configs.apply(parse_config(text), base_dir=tmp_path)


def test_failed_entries_above_a_share_fire_and_clear_when_they_go_through(
    app, name, tmp_path, hook
):
    alerts = app.in_workspace(app.workspace_id).alerts
    refused = {"SKU-2", "SKU-5", "SKU-7"}
    api = HttpApi()
    api.handler = lambda request: Answer(
        body={
            "results": [
                {"error": "price missing"} if i["fields"]["sku"] in refused else {}
                for i in request.body["items"]
            ]
        }
    )
    shop = Catalogue(tmp_path / "shop.db")
    shop.put(*({"id": i} for i in range(1, 11)))
    _http_sync(app, name, shop, api, tmp_path)
    rule_id = watch(app, name, hook, "failed_entries", failed_share_above=0.2)
    first = run_sync(app, name)
    assert first.counters.failed == 3
    (opened,) = wait_for(lambda: alerts.incidents(rule_id=rule_id))
    assert opened.summary == f"run {first.id}: 3 of 10 entries failed (30%)"
    refused.clear()
    second = run_sync(app, name)  # the next run sends the failed items again
    assert second.counters.changes == 3 and second.counters.failed == 0
    assert wait_for(lambda: not alerts.incidents(rule_id=rule_id)[0].is_open)
    wait_for(lambda: len(hook.requests) == 2)
    assert hook.requests[1].body["summary"] == f"run {second.id}: 0 of 3 entries failed (0%)"
    api.close()


def test_a_run_lasting_too_long_fires_while_it_goes_on(app, name, tmp_path, hook):
    alerts = app.in_workspace(app.workspace_id).alerts
    api = HttpApi()
    api.handler = lambda request: Answer(body={"results": [{}] * 1})
    try:
        shop = Catalogue(tmp_path / "shop.db")
        shop.put({"id": 1})
        _http_sync(app, name, shop, api, tmp_path)
        rule_id = watch(app, name, hook, "duration", max_duration="1s")
        api.hold()  # the run goes on, delivering, until released
        run = app.runs.trigger(name)
        (opened,) = wait_for(lambda: alerts.incidents(rule_id=rule_id))
        assert opened.run_id == run.id and "has been running for" in opened.summary
        assert app.runs.get(run.id).status.is_live  # told while it still runs
        api.release()
        assert app.runs.wait(run.id, timeout=60, poll=0.05).status is RunStatus.SUCCEEDED
    finally:
        api.close()


def test_a_volume_far_from_the_norm_fires(app, name, tmp_path, dest_url, hook):
    alerts = app.in_workspace(app.workspace_id).alerts
    shop = Catalogue(tmp_path / "shop.db")
    shop.put(*({"id": i} for i in range(1, 11)))
    configure(app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path)
    rule_id = watch(app, name, hook, "volume", deviation=0.5, lookback=4)
    for _ in range(4):
        assert run_sync(app, name).counters.read == 10
    assert judged(app, alerts, rule_id) == []  # four runs of 10 rows: nothing to say
    shop.put(*({"id": i} for i in range(11, 31)))
    odd = run_sync(app, name)
    (opened,) = wait_for(lambda: alerts.incidents(rule_id=rule_id))
    assert opened.run_id == odd.id
    assert "read 30 rows, +200% against the mean of 10 over the 4 runs before" in opened.summary


def test_a_sync_a_rule_watches_is_not_deleted_from_under_it(app, name, tmp_path, dest_url, hook):
    shop = Catalogue(tmp_path / "shop.db")
    shop.put({"id": 1})
    configure(app, name, source_url=shop.url, dest_url=dest_url, base_dir=tmp_path)
    rule_id = watch(app, name, hook, "run_failed")
    services = app.in_workspace(app.workspace_id)
    sync_id = app.store.config.sync_by_name(app.workspace_id, name).id
    with pytest.raises(Conflict, match=f"alert rules {name}-r watch sync {name!r}"):
        services.objects.delete("sync", sync_id, user_id=None)
    services.alerts.delete_rule(rule_id, user_id=None)
    services.objects.delete("sync", sync_id, user_id=None)


def test_alert_channels_and_rules_in_the_configuration_file(app, name, tmp_path, dest_url, hook):
    shop = Catalogue(tmp_path / "shop.db")
    shop.put({"id": 1})
    _feed(shop, True)
    text = f"""
sources: {{{name}_src: {{type: sql, url: "{shop.url}"}}}}
models: {{{name}_m: {{source: {name}_src, query: "SELECT * FROM feed", primary_key: id}}}}
destinations: {{{name}_d: {{type: sql, url: "{dest_url}", table: t}}}}
syncs: {{{name}: {{model: {name}_m, destination: {name}_d}}}}
alert_channels:
  {name}-ops: {{type: webhook, url: "{hook.url}", secret: "${{OPS_SECRET}}"}}
  {name}-mail: {{type: email, to: [oncall@example.com]}}
alert_rules:
  {name}-failing: {{condition: run_failed, sync: {name}, channels: [{name}-ops, {name}-mail]}}
  {name}-stale: {{condition: freshness, max_age: 6h, channels: [{name}-ops], enabled: false}}
"""
    env = {"OPS_SECRET": SECRET}
    changes = app.configs.apply(parse_config(text, env=env), base_dir=tmp_path)
    alerting = {(c.kind, c.name): c.action for c in changes if c.kind.startswith("alert")}
    assert alerting == {
        ("alert_channel", f"{name}-ops"): "created",
        ("alert_channel", f"{name}-mail"): "created",
        ("alert_rule", f"{name}-failing"): "created",
        ("alert_rule", f"{name}-stale"): "created",
    }
    alerts = app.in_workspace(app.workspace_id).alerts
    (failing,) = [r for r in alerts.rules() if r.rule.name == f"{name}-failing"]
    assert failing.sync_name == name and failing.channel_names == (f"{name}-ops", f"{name}-mail")
    (stale,) = [r for r in alerts.rules() if r.rule.name == f"{name}-stale"]
    assert stale.rule.thresholds.max_age == 6 * 3600 and not stale.rule.enabled
    (ops,) = [c for c in alerts.channels() if c.name == f"{name}-ops"]
    assert ops.config["secret"] == "********"
    # Applied again: unchanged (secrets are sealed alike); a threshold edited: updated.
    again = app.configs.apply(parse_config(text, env=env), base_dir=tmp_path)
    assert {c.action for c in again if c.kind.startswith("alert")} == {"unchanged"}
    edited = text.replace("max_age: 6h", "max_age: 2h")
    changed = app.configs.apply(parse_config(edited, env=env), base_dir=tmp_path)
    assert [(c.name, c.action) for c in changed if c.action == "updated"] == [
        (f"{name}-stale", "updated")
    ]
    # The rule from the file fires and its webhook is signed with the file's secret.
    _feed(shop, False)  # applied while it ran; its runs fail now
    assert run_sync(app, name).status is RunStatus.FAILED
    wait_for(lambda: hook.requests)
    request = hook.requests[0]
    stamp = request.headers["x-syncwright-timestamp"].encode()
    good = hmac.new(SECRET.encode(), stamp + b"." + request.raw, hashlib.sha256).hexdigest()
    assert request.headers["x-syncwright-signature"] == f"sha256={good}"
    # Wrong files are refused naming the field, and nothing of them is applied.
    for wrong, field in [
        (
            edited.replace(f"channels: [{name}-ops], enabled", "channels: [nope], enabled"),
            f"alert_rules.{name}-stale.channels",
        ),
        (
            edited.replace(f"sync: {name}, channels", "sync: nope, channels"),
            f"alert_rules.{name}-failing.sync",
        ),
        (edited.replace("max_age: 2h", "max_age: soon"), f"alert_rules.{name}-stale.max_age"),
        (
            edited.replace('secret: "${OPS_SECRET}"', 'secret: "short"'),
            f"alert_channels.{name}-ops.secret",
        ),
        (edited.replace("condition: freshness", "condition: sometimes"), "alert_rules"),
    ]:
        with pytest.raises(ConfigError) as found:
            app.configs.apply(parse_config(wrong, env=env), base_dir=tmp_path)
        assert (found.value.field or "").startswith(field), (field, found.value)
    (stale,) = [r for r in alerts.rules() if r.rule.name == f"{name}-stale"]
    assert stale.rule.thresholds.max_age == 2 * 3600
