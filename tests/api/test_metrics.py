"""Prometheus metrics at /metrics, read from the store: they count what the runs did, on
SQLite and PostgreSQL, and a metrics token closes them when set."""

from __future__ import annotations

import dataclasses
from collections import Counter

from prometheus_client.parser import text_string_to_metric_families

from syncwright.domain.alerts import Verdict
from syncwright.domain.clock import utcnow
from syncwright.domain.statuses import RunStatus
from syncwright.services.alerts import ChannelDoc, RuleDoc
from syncwright.services.config_file import parse_config
from tests.support.catalogue import Catalogue, run_sync
from tests.support.http_api import Answer, HttpApi

CONFIG = """
sources: {{m_src: {{type: sql, url: "{shop}"}}}}
models:  {{m_model: {{source: m_src, query: "SELECT * FROM products", primary_key: id, reference: sku}}}}
destinations: {{m_dst: {{type: http, url: "{url}/items", batch_size: 1}}}}
syncs:
  metered: {{model: m_model, destination: m_dst, retry: {{retries: 1, first_delay: 0.05}}}}
"""


def _samples(text: str) -> dict[str, list]:
    found: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def _value(samples: list, **labels: str) -> float:
    [match] = [s for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]
    return match.value


def test_metrics_count_runs_items_retries_durations_and_the_queue(served, tmp_path):
    app = served.app
    api = HttpApi()
    tries: Counter[str] = Counter()

    def answer(request):
        sku = request.body["fields"]["sku"]
        tries[sku] += 1
        if sku == "SKU-2" and tries[sku] == 1:
            return Answer(status=503, body={"message": "busy"})  # retried once, then taken
        if sku == "SKU-3":
            return Answer(status=422, body={"message": "no"})  # refused for good
        return Answer()

    api.handler = answer
    try:
        shop = Catalogue(tmp_path / "metered.db")
        shop.put(*({"id": i} for i in range(1, 5)))
        app.configs.apply(
            parse_config(CONFIG.format(shop=shop.url, url=api.url)), base_dir=tmp_path
        )
        first = run_sync(app, "metered")
        shop.put({"id": 9})
        second = run_sync(app, "metered")
    finally:
        api.close()
    with served.client() as c:
        answer = c.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = _samples(answer.text)
    ours = {"workspace": app.settings.workspace, "sync": "metered"}
    assert (first.status, second.status) == (RunStatus.SUCCEEDED, RunStatus.SUCCEEDED)
    assert _value(samples["syncwright_runs_total"], status="succeeded", **ours) == 2
    # SKU-1..4 then SKU-9 and SKU-3 again: ok 4, failed 2 (SKU-3 twice)
    assert _value(samples["syncwright_items_total"], status="ok", **ours) == 4
    assert _value(samples["syncwright_items_total"], status="failed", **ours) == 2
    # SKU-2 was retried once within its run; SKU-3's refusal is final (no retry)
    assert _value(samples["syncwright_item_retries_total"], **ours) == 1
    assert _value(samples["syncwright_run_duration_seconds_count"], **ours) == 2
    assert _value(samples["syncwright_run_duration_seconds_bucket"], le="+Inf", **ours) == 2
    assert _value(samples["syncwright_run_duration_seconds_sum"], **ours) > 0
    assert {s.labels["status"] for s in samples["syncwright_runs_live"]} == {
        "waiting",
        "admitted",
        "querying",
        "preparing",
        "in_progress",
    }
    assert "syncwright_queue_depth" in samples
    assert _value(samples["syncwright_workers_live"]) >= 1
    assert samples["syncwright_worker_heartbeat_timestamp_seconds"]


def test_a_metrics_token_closes_the_metrics(served):
    previous = served.app.settings
    served.app.settings = dataclasses.replace(previous, metrics_token="s3cret")
    try:
        with served.client() as c:
            assert c.get("/metrics").status_code == 401
            assert c.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
            ok = c.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and "syncwright_runs_total" in ok.text
    finally:
        served.app.settings = previous


def test_metrics_count_open_alerts_and_their_notices(served, tmp_path):
    app = served.app
    shop = Catalogue(tmp_path / "alerted.db")
    shop.put({"id": 1})
    text = f"""
sources: {{a_src: {{type: sql, url: "{shop.url}"}}}}
models: {{a_model: {{source: a_src, query: "SELECT * FROM products", primary_key: id}}}}
destinations: {{a_dst: {{type: sql, url: "sqlite:///{tmp_path / "dest.db"}", table: t}}}}
syncs: {{alerted: {{model: a_model, destination: a_dst}}}}
"""
    app.configs.apply(parse_config(text), base_dir=tmp_path)
    alerts = app.in_workspace(app.workspace_id).alerts
    alerts.create_channel(
        "metrics-ch", ChannelDoc(type="slack", url="http://127.0.0.1:9/x"), user_id=None
    )
    # Volume needs runs to judge: the engine leaves this staged alert as it is.
    rule_id = alerts.create_rule(
        "metrics-rule",
        RuleDoc(condition="volume", deviation=0.5, sync="alerted", channels=["metrics-ch"]),
        user_id=None,
    )
    rule = app.store.alerts.rule(app.workspace_id, rule_id)
    sync_id = app.store.config.sync_by_name(app.workspace_id, "alerted").id
    incident = app.store.alerts.open(rule, sync_id, Verdict(firing=True, summary="x"), utcnow())
    ours = {"workspace": app.settings.workspace}

    def scrape():
        with served.client() as c:
            return _samples(c.get("/metrics").text)

    found = scrape()
    assert _value(found["syncwright_alerts_open"], rule="metrics-rule", sync="alerted", **ours) == 1
    notices = [
        s for s in found["syncwright_alert_notices_total"] if s.labels["channel"] == "metrics-ch"
    ]
    assert sum(s.value for s in notices) == 1
    app.store.alerts.close(incident, "over", utcnow(), rule.channel_ids)
    found = scrape()
    assert not [
        s for s in found.get("syncwright_alerts_open", []) if s.labels["rule"] == "metrics-rule"
    ]
    notices = [
        s for s in found["syncwright_alert_notices_total"] if s.labels["channel"] == "metrics-ch"
    ]
    assert sum(s.value for s in notices) == 2
