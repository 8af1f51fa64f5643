"""Every route over real HTTP, on SQLite and PostgreSQL: tokens, syncs, runs, the webhook
trigger, and errors as problem+json naming their fields."""

from __future__ import annotations

import time

from syncwright.api.app import create_api
from syncwright.domain.access import Role


def _wait_ended(client, location, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(location).json()
        if run["status"] in ("succeeded", "failed", "incomplete", "aborted", "skipped"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"{location} did not end")


def _problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_health_and_readiness_need_no_token(served):
    with served.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"store": "ok", "engine": "ok"}


def test_no_token_a_wrong_one_and_a_revoked_one_are_refused(world):
    served = world.served
    with served.client() as c:
        body = _problem(c.get("/api/v1/me"), 401)
        assert "Bearer" in body["detail"]
        assert c.get("/api/v1/me").headers["www-authenticate"] == "Bearer"
    with served.client("swt_not-a-real-one") as c:
        assert "not valid" in _problem(c.get("/api/v1/me"), 401)["detail"]
    with world.as_(Role.VIEWER) as c:
        made = c.post("/api/v1/me/tokens", json={"name": "short-lived"})
        assert made.status_code == 201
        secret = made.json()["secret"]
    with served.client(secret) as fresh:
        assert fresh.get("/api/v1/me").status_code == 200
        revoked = fresh.delete(f"/api/v1/me/tokens/{made.json()['id']}")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        _problem(fresh.get("/api/v1/me"), 401)


def test_me_lists_only_the_callers_workspaces_with_their_role(world):
    with world.as_(Role.OPERATOR) as c:
        me = c.get("/api/v1/me").json()
    assert me["user"]["id"] == world.alpha.users[Role.OPERATOR]
    assert [(w["id"], w["role"]) for w in me["workspaces"]] == [(world.alpha.id, "operator")]
    with world.as_(Role.ADMIN, "beta") as c:
        listed = c.get("/api/v1/workspaces").json()["items"]
        assert [w["id"] for w in listed] == [world.beta.id]
        assert c.get(f"/api/v1/workspaces/{world.beta.id}").json()["name"] == world.beta.name


def test_tokens_show_their_secret_once_and_note_their_last_use(world):
    with world.as_(Role.ADMIN) as c:
        made = c.post("/api/v1/me/tokens", json={"name": "ci"}).json()
        assert made["secret"].startswith("swt_") and made["hint"] == made["secret"][:10]
        with world.served.client(made["secret"]) as used:
            used.get("/api/v1/me")
        listed = {t["id"]: t for t in c.get("/api/v1/me/tokens").json()["items"]}
        assert "secret" not in listed[made["id"]]
        assert listed[made["id"]]["last_used_at"] is not None
        # a token of another user is not found, whoever asks
        other = world.served.app.accounts.tokens(f"viewer-{world.alpha.name}@example.com")[0]
        _problem(c.delete(f"/api/v1/me/tokens/{other.id}"), 404)
        body = _problem(c.post("/api/v1/me/tokens", json={}), 422)
        assert [e["field"] for e in body["errors"]] == ["name"]


def test_syncs_list_filter_page_and_read(world):
    base = f"/api/v1/workspaces/{world.alpha.id}/syncs"
    with world.as_(Role.VIEWER) as c:
        everything = c.get(base).json()
        assert [s["name"] for s in everything["items"]] == ["a_products", "b_prices", "c_planned"]
        assert everything["next_cursor"] is None
        pages, cursor = [], None
        while True:
            page = c.get(base, params={"limit": 1, **({"cursor": cursor} if cursor else {})})
            pages += [s["name"] for s in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert pages == ["a_products", "b_prices", "c_planned"]
        assert [s["name"] for s in c.get(base, params={"label": "catalogue"}).json()["items"]] == [
            "a_products",
            "b_prices",
        ]
        assert [s["name"] for s in c.get(base, params={"folder": "shop"}).json()["items"]] == [
            "a_products"
        ]
        assert [s["name"] for s in c.get(base, params={"search": "PRICE"}).json()["items"]] == [
            "b_prices"
        ]
        one = c.get(f"{base}/{world.alpha.syncs['c_planned']}").json()
        assert one["webhook"] is True and "every 1h" in one["trigger"]
        assert one["enabled"] is True
        _problem(c.get(f"{base}/no-such-sync"), 404)
        body = _problem(c.get(base, params={"cursor": "garbage"}), 422)
        assert body["errors"][0]["field"] == "cursor"


def test_start_a_run_follow_it_and_find_it_in_the_list(world):
    ws = world.alpha
    with world.as_(Role.OPERATOR) as c:
        started = c.post(f"/api/v1/workspaces/{ws.id}/syncs/{ws.syncs['a_products']}/runs")
        assert started.status_code == 202
        location = started.headers["location"]
        assert location == f"/api/v1/workspaces/{ws.id}/runs/{started.json()['id']}"
        run = _wait_ended(c, location)
        assert run["status"] == "succeeded" and run["counters"]["ok"] == 5
        assert run["trigger"] == "manual" and run["created_by_user_id"] == ws.users[Role.OPERATOR]
        full = c.post(
            f"/api/v1/workspaces/{ws.id}/syncs/{ws.syncs['a_products']}/runs", json={"full": True}
        )
        assert full.json()["mode"] == "full"
        assert _wait_ended(c, full.headers["location"])["counters"]["ok"] == 5
        listed = c.get(
            f"/api/v1/workspaces/{ws.id}/runs",
            params={"sync_id": ws.syncs["a_products"], "trigger": "manual"},
        ).json()["items"]
        assert [r["id"] for r in listed[:2]] == [full.json()["id"], started.json()["id"]]
        assert all(r["sync_name"] == "a_products" for r in listed)


def test_runs_filters_and_stable_cursor_pages(world):
    ws = world.alpha
    base = f"/api/v1/workspaces/{ws.id}/runs"
    with world.as_(Role.OPERATOR) as c:
        for _ in range(3):
            started = c.post(f"/api/v1/workspaces/{ws.id}/syncs/{ws.syncs['b_prices']}/runs")
            _wait_ended(c, started.headers["location"])
        every = [r["id"] for r in c.get(base, params={"limit": 500}).json()["items"]]
        paged, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = c.get(base, params=params).json()
            paged += [r["id"] for r in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert paged == every and len(set(every)) == len(every) >= 3
        succeeded = c.get(base, params={"status": "succeeded", "limit": 500}).json()["items"]
        assert succeeded and all(r["status"] == "succeeded" for r in succeeded)
        planned = c.get(base, params={"status": "scheduled"}).json()["items"]
        assert [r["sync_name"] for r in planned] == ["c_planned"]
        future = c.get(base, params={"since": "2999-01-01T00:00:00Z"}).json()["items"]
        assert future == []
        assert len(c.get(base, params={"until": "2999-01-01T00:00:00Z"}).json()["items"]) >= 3
        body = _problem(c.get(base, params={"since": "2024-01-01T00:00:00"}), 422)
        assert body["errors"][0]["field"] == "since"


def test_cancel_a_planned_run_and_refuse_an_ended_one(world):
    ws = world.alpha
    base = f"/api/v1/workspaces/{ws.id}/runs"
    with world.as_(Role.OPERATOR) as c:
        planned = c.get(base, params={"status": "scheduled"}).json()["items"][0]
        cancelled = c.post(f"{base}/{planned['id']}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "aborted"
        body = _problem(c.post(f"{base}/{planned['id']}/cancel"), 422)
        assert body["errors"][0]["field"] == "run" and "already ended" in body["detail"]
        # the schedule goes on: a new planned run took its place
        again = c.get(base, params={"status": "scheduled"}).json()["items"]
        assert again and again[0]["id"] != planned["id"]


def test_disable_refuses_runs_and_enable_allows_them_again(world):
    ws = world.alpha
    sync = f"/api/v1/workspaces/{ws.id}/syncs/{ws.syncs['b_prices']}"
    with world.as_(Role.OPERATOR) as c:
        assert c.post(f"{sync}/disable").json()["enabled"] is False
        body = _problem(c.post(f"{sync}/runs"), 422)
        assert body["errors"][0]["field"] == "enabled"
        assert c.post(f"{sync}/enable").json()["enabled"] is True
        assert c.post(f"{sync}/runs").status_code == 202


def test_the_webhook_trigger_needs_its_secret_only(world):
    ws = world.alpha
    hook = f"/api/v1/workspaces/{ws.id}/syncs/{ws.syncs['c_planned']}/webhook"
    with world.as_(Role.ADMIN) as admin:
        first = admin.post(hook).json()
        assert first["url"].startswith("/api/v1/hooks/") and first["created_at"]
        again = admin.post(hook).json()
        assert again["url"] is None and again["created_at"] == first["created_at"]
        rotated = admin.post(hook, params={"rotate": True}).json()
        assert rotated["url"] not in (None, first["url"])
        no_hook = admin.post(f"/api/v1/workspaces/{ws.id}/syncs/{ws.syncs['a_products']}/webhook")
        assert no_hook.status_code == 422 and no_hook.json()["errors"][0]["field"] == "webhook"
    with world.as_(Role.OPERATOR) as operator:
        assert operator.post(hook).status_code == 403
    with world.served.client() as c:
        assert c.post(first["url"]).status_code == 404  # rotated away
        hooked = c.post(rotated["url"])
        assert hooked.status_code == 202
        assert hooked.json()["trigger"] == "webhook"
        assert hooked.headers["location"].startswith(f"/api/v1/workspaces/{ws.id}/runs/")
        _problem(c.post("/api/v1/hooks/not-the-secret"), 404)
    with world.as_(Role.VIEWER) as v:
        run = _wait_ended(v, hooked.headers["location"])
        assert run["sync_name"] == "c_planned" and run["status"] == "succeeded"


def test_validation_errors_list_every_bad_field(world):
    with world.as_(Role.VIEWER) as c:
        body = _problem(
            c.get(
                f"/api/v1/workspaces/{world.alpha.id}/runs",
                params={"limit": 0, "status": "bogus", "trigger": "nope"},
            ),
            422,
        )
    assert sorted(e["field"] for e in body["errors"]) == ["limit", "status", "trigger"]
    assert "limit" in body["detail"] and "status" in body["detail"]


def test_members_are_managed_by_admins_and_the_last_admin_stays(world):
    ws = world.alpha
    base = f"/api/v1/workspaces/{ws.id}/members"
    newcomer = f"newcomer-{ws.name}@example.com"
    world.served.app.accounts.create_user(newcomer)
    with world.as_(Role.ADMIN) as c:
        added = c.put(base, json={"email": newcomer, "role": "viewer"})
        assert added.status_code == 200 and added.json()["role"] == "viewer"
        members = {m["user"]["email"]: m["role"] for m in c.get(base).json()["items"]}
        assert members[newcomer] == "viewer" and len(members) == 4
        body = _problem(
            c.put(base, json={"email": f"admin-{ws.name}@example.com", "role": "viewer"}), 422
        )
        assert body["errors"][0]["field"] == "role"
        invited = c.put(base, json={"email": f"Fresh-{ws.name}@Example.com", "role": "operator"})
        assert invited.status_code == 200
        assert invited.json()["user"]["email"] == f"fresh-{ws.name}@example.com"
        bad = _problem(c.put(base, json={"email": "not-an-address", "role": "viewer"}), 422)
        assert bad["errors"][0]["field"] == "email"
        removed = c.delete(f"{base}/{added.json()['user']['id']}")
        assert removed.status_code == 204
        assert newcomer not in {m["user"]["email"] for m in c.get(base).json()["items"]}
        body = _problem(c.put(base, json={"email": "x@example.com", "role": "owner"}), 422)
        assert body["errors"][0]["field"] == "role"


def test_a_mistyped_repeated_or_empty_query_parameter_is_refused(world):
    base = f"/api/v1/workspaces/{world.alpha.id}/runs"
    with world.as_(Role.VIEWER) as c:
        typo = _problem(c.get(base, params={"stauts": "failed"}), 422)
        assert typo["errors"][0]["field"] == "stauts" and "takes" in typo["errors"][0]["detail"]
        twice = _problem(c.get(base, params=[("limit", "1"), ("limit", "2")]), 422)
        assert twice["errors"][0]["field"] == "limit"
        entries = f"/api/v1/workspaces/{world.alpha.id}/entries"
        several = c.get(entries, params=[("status", "ok"), ("status", "failed")])
        assert several.status_code == 200  # a list parameter may repeat
        for name in ("status", "sync_id", "cursor"):
            empty = _problem(c.get(base, params={name: ""}), 422)
            assert empty["errors"][0]["field"] == name
            assert "leave the parameter out" in empty["errors"][0]["detail"]
        audit = f"/api/v1/workspaces/{world.alpha.id}/audit"
        with world.as_(Role.ADMIN) as admin:
            assert admin.get(audit, params={"object_type": ""}).status_code == 422


def test_every_route_but_the_webhook_needs_a_token(served):
    spec = create_api(None).openapi()  # type: ignore[arg-type] (the spec needs no services)
    checked = 0
    with served.client() as anonymous:
        for path, methods in spec["paths"].items():
            for method in methods:
                url = path.replace("{", "x").replace("}", "x")
                answer = anonymous.request(method.upper(), url)
                if path in ("/healthz", "/readyz", "/metrics"):
                    assert answer.status_code in (200, 503)
                elif path.startswith("/api/v1/hooks/"):
                    assert answer.status_code == 404  # its secret is its credential
                else:
                    assert answer.status_code == 401, (method, path, answer.text)
                    checked += 1
    assert checked > 40
