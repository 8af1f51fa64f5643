"""The alert routes over HTTP: channels with secrets masked and kept, rules with durations,
field-named refusals, a test notice to a real server, and the alert history paged."""

from __future__ import annotations

import pytest

from syncwright.domain.access import Role
from syncwright.domain.alerts import Verdict
from syncwright.domain.clock import utcnow
from tests.support.http_api import Answer, HttpApi

ADMIN, VIEWER = Role.ADMIN, Role.VIEWER


@pytest.fixture
def receiver():
    server = HttpApi()
    yield server
    server.close()


def test_channels_keep_their_secrets_and_show_them_masked(world, receiver):
    base = f"/api/v1/workspaces/{world.alpha.id}"
    with world.as_(ADMIN) as admin:
        made = admin.post(
            f"{base}/alert-channels",
            json={"name": "ops hook", "type": "webhook", "url": receiver.url, "secret": "s" * 20},
        )
        assert made.status_code == 201, made.text
        channel = made.json()
        assert channel["config"] == {"url": receiver.url, "secret": "********"}
        assert made.headers["location"].endswith(f"/alert-channels/{channel['id']}")
        # Replaced without the secret: it keeps the one it had, and still signs with it.
        put = admin.put(
            f"{base}/alert-channels/{channel['id']}",
            json={"type": "webhook", "url": f"{receiver.url}/v2"},
        )
        assert put.status_code == 200 and put.json()["config"]["url"] == f"{receiver.url}/v2"
        # Sent back as read (masked), the secret stays too.
        echoed = admin.put(f"{base}/alert-channels/{channel['id']}", json=put.json() | {"id": None})
        assert echoed.status_code == 422  # (ids and names are not settings)
        round_trip = {k: v for k, v in put.json().items() if k == "type"} | put.json()["config"]
        assert (
            admin.put(f"{base}/alert-channels/{channel['id']}", json=round_trip).status_code == 200
        )
        tested = admin.post(f"{base}/alert-channels/{channel['id']}/test")
        assert tested.json() == {"ok": True, "problem": None}
        (request,) = receiver.requests
        assert request.path == "/v2" and request.body["test"] is True
        assert request.headers["x-syncwright-signature"].startswith("sha256=")
        receiver.handler = lambda r: Answer(status=410, body={"message": "gone"})
        tested = admin.post(f"{base}/alert-channels/{channel['id']}/test")
        assert tested.json() == {"ok": False, "problem": "HTTP 410 Gone: gone"}
        slack = admin.post(
            f"{base}/alert-channels",
            json={
                "name": "ops slack",
                "type": "slack",
                "url": "https://hooks.example.com/T1/B2/c3",
            },
        ).json()
        assert slack["config"] == {"url": "https://hooks.example.com/********"}
    with world.as_(VIEWER) as viewer:
        listed = viewer.get(f"{base}/alert-channels").json()["items"]
    assert {c["name"]: c["config"].get("secret") for c in listed}["ops hook"] == "********"
    assert "s" * 20 not in str(listed) and "T1/B2" not in str(listed)


def test_wrong_channels_and_rules_are_refused_naming_the_field(world):
    base = f"/api/v1/workspaces/{world.alpha.id}"
    with world.as_(ADMIN) as admin:
        for body, field in [
            ({"name": "x", "type": "pager"}, "type"),
            ({"name": "x", "type": "webhook", "url": "http://h/x"}, "secret"),
            ({"name": "x", "type": "webhook", "url": "http://h", "secret": "short"}, "secret"),
            ({"name": "x", "type": "email", "to": ["a@b.c"]}, "type"),  # no SMTP configured
            ({"name": "x", "type": "slack", "url": "http://h", "extra": 1}, "extra"),
        ]:
            answer = admin.post(f"{base}/alert-channels", json=body)
            assert answer.status_code == 422, answer.text
            assert [e["field"] for e in answer.json()["errors"]] == [field], answer.text
        admin.post(
            f"{base}/alert-channels",
            json={"name": "rules-ch", "type": "slack", "url": "http://h/x"},
        )
        for body, field in [
            ({"name": "r", "condition": "freshness", "channels": ["rules-ch"]}, "max_age"),
            ({"name": "r", "condition": "nope", "channels": ["rules-ch"]}, "condition"),
            ({"name": "r", "condition": "run_failed", "channels": []}, "channels"),
            ({"name": "r", "condition": "run_failed", "channels": ["missing"]}, "channels"),
            (
                {
                    "name": "r",
                    "condition": "duration",
                    "max_duration": "1x",
                    "channels": ["rules-ch"],
                },
                "max_duration",
            ),
        ]:
            answer = admin.post(f"{base}/alert-rules", json=body)
            assert answer.status_code == 422, answer.text
            assert [e["field"] for e in answer.json()["errors"]] == [field], answer.text
        made = admin.post(
            f"{base}/alert-rules",
            json={
                "name": "slow prices",
                "condition": "duration",
                "max_duration": "15m",
                "sync": "b_prices",
                "channels": ["rules-ch"],
            },
        )
        assert made.status_code == 201, made.text
        rule = made.json()
        assert rule["thresholds"] == {"max_duration": 900.0}
        assert rule["sync"] == "b_prices" and rule["sync_id"] == world.alpha.syncs["b_prices"]
        assert rule["channels"] == ["rules-ch"]
        again = admin.post(
            f"{base}/alert-rules",
            json={"name": "slow prices", "condition": "run_failed", "channels": ["rules-ch"]},
        )
        assert again.status_code == 409
        used = admin.delete(f"{base}/alert-channels/{rule['channel_ids'][0]}")
        assert used.status_code == 409 and "slow prices" in used.json()["detail"]
        replaced = admin.put(
            f"{base}/alert-rules/{rule['id']}",
            json={
                "condition": "volume",
                "deviation": 0.3,
                "channels": ["rules-ch"],
                "enabled": False,
            },
        ).json()
        assert replaced["sync"] is None and replaced["enabled"] is False
        assert replaced["thresholds"] == {"deviation": 0.3, "lookback": 10}
        assert admin.delete(f"{base}/alert-rules/{rule['id']}").status_code == 204
        assert admin.get(f"{base}/alert-rules/{rule['id']}").status_code == 404
        audit = admin.get(f"{base}/audit", params={"object_type": "alert_rule"}).json()["items"]
        assert [e["action"] for e in audit][:3] == [
            "alert_rule.deleted",
            "alert_rule.replaced",
            "alert_rule.created",
        ]


def test_the_alert_history_filters_and_pages(world):
    sw = world.served.app
    alerts = sw.in_workspace(world.alpha.id).alerts
    base = f"/api/v1/workspaces/{world.alpha.id}"
    with world.as_(ADMIN) as admin:
        admin.post(
            f"{base}/alert-channels", json={"name": "hist-ch", "type": "slack", "url": "http://h/x"}
        )
        rule_id = admin.post(
            f"{base}/alert-rules",
            # Volume needs four runs of a sync to judge: the engine leaves these alone.
            json={"name": "hist", "condition": "volume", "deviation": 0.5, "channels": ["hist-ch"]},
        ).json()["id"]
    rule = sw.store.alerts.rule(world.alpha.id, rule_id)
    # Staged incidents, all opened at one moment (as one judgement of a workspace rule does).
    now = utcnow()
    for sync_id in world.alpha.syncs.values():
        sw.store.alerts.open(rule, sync_id, Verdict(firing=True, summary="staged"), now)
    staged = alerts.incidents(rule_id=rule_id)
    sw.store.alerts.close(staged[0].id, "over", now)
    with world.as_(VIEWER) as viewer:
        seen, cursor = [], None
        while True:
            params = {"rule_id": rule_id, "limit": 1, **({"cursor": cursor} if cursor else {})}
            page = viewer.get(f"{base}/alerts", params=params).json()
            seen += [a["id"] for a in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(i.id for i in staged) and len(seen) == len(set(seen))
        closed = viewer.get(f"{base}/alerts", params={"rule_id": rule_id, "state": "closed"})
        assert [a["id"] for a in closed.json()["items"]] == [staged[0].id]
        one_sync = world.alpha.syncs["b_prices"]
        by_sync = viewer.get(f"{base}/alerts", params={"rule_id": rule_id, "sync_id": one_sync})
        assert [a["sync"] for a in by_sync.json()["items"]] == ["b_prices"]
        alert = viewer.get(f"{base}/alerts/{staged[1].id}").json()
        assert alert["rule"] == "hist" and alert["condition"] == "volume"
        assert [(d["channel"], d["event"]) for d in alert["deliveries"]] == [("hist-ch", "firing")]
        assert viewer.get(f"{base}/alerts", params={"state": "shut"}).status_code == 422
