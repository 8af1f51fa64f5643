"""Configuration over real HTTP: a document applied after a dry run, objects created,
replaced, filed and deleted one by one, each write carrying its actor into the audit log."""

from __future__ import annotations

import time

from syncwright.domain.access import Role


def _doc(world, suffix):
    shop = world.folder / f"{world.alpha.name}.db"
    return {
        "sources": {f"src_{suffix}": {"type": "sql", "url": f"sqlite:///{shop}"}},
        "models": {
            f"model_{suffix}": {
                "source": f"src_{suffix}",
                "query": "SELECT * FROM products",
                "primary_key": "id",
                "reference": "sku",
            }
        },
        "destinations": {
            f"dst_{suffix}": {
                "type": "sql",
                "url": f"sqlite:///{world.folder / f'dst-{suffix}.db'}",
                "table": "products",
            }
        },
        "syncs": {f"sync_{suffix}": {"model": f"model_{suffix}", "destination": f"dst_{suffix}"}},
    }


def test_a_document_is_shown_by_a_dry_run_then_applied(world):
    base = f"/api/v1/workspaces/{world.alpha.id}"
    doc = _doc(world, "doc")
    with world.as_(Role.ADMIN) as c:
        dry = c.post(f"{base}/config", params={"dry_run": True}, json=doc).json()
        assert dry["dry_run"] is True
        assert {(x["kind"], x["action"]) for x in dry["changes"]} == {
            ("source", "created"),
            ("model", "created"),
            ("destination", "created"),
            ("sync", "created"),
        }
        names = {s["name"] for s in c.get(f"{base}/syncs").json()["items"]}
        assert "sync_doc" not in names  # the dry run wrote nothing
        applied = c.post(f"{base}/config", json=doc).json()
        assert applied["dry_run"] is False and len(applied["changes"]) == 4
        again = c.post(f"{base}/config", json=doc).json()
        assert {x["action"] for x in again["changes"]} == {"unchanged"}
        sync = next(s for s in c.get(f"{base}/syncs").json()["items"] if s["name"] == "sync_doc")
        assert sync["created_by_user_id"] == world.alpha.users[Role.ADMIN]


def test_a_wrong_document_names_its_field_and_applies_nothing(world):
    base = f"/api/v1/workspaces/{world.alpha.id}"
    doc = _doc(world, "bad")
    doc["syncs"]["sync_bad"]["mode"] = "sideways"
    doc["models"]["model_bad"]["primary_key"] = []
    with world.as_(Role.ADMIN) as c:
        answer = c.post(f"{base}/config", json=doc)
        assert answer.status_code == 422
        fields = sorted(e["field"] for e in answer.json()["errors"])
        assert fields == ["models.model_bad.primary_key", "syncs.sync_bad.mode"]
        doc = _doc(world, "bad")
        doc["destinations"]["dst_bad"]["url"] = "postgresql://nobody@127.0.0.1:1/none"
        refused = c.post(f"{base}/config", json=doc)
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "destinations.dst_bad"
        assert "src_bad" not in {s["name"] for s in c.get(f"{base}/sources").json()["items"]}


def test_objects_one_by_one_create_replace_file_and_delete(world):
    ws = world.alpha
    base = f"/api/v1/workspaces/{ws.id}"
    shop = world.folder / f"{ws.name}.db"
    with world.as_(Role.ADMIN) as c:
        src = c.post(
            f"{base}/sources", json={"name": "one_src", "type": "sql", "url": f"sqlite:///{shop}"}
        )
        assert src.status_code == 201 and src.headers["location"].endswith(src.json()["id"])
        taken = c.post(
            f"{base}/sources", json={"name": "one_src", "type": "sql", "url": "sqlite://"}
        )
        assert taken.status_code == 409
        bad = c.post(f"{base}/sources", json={"name": "bad one", "type": "sql"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "name"
        model = c.post(
            f"{base}/models",
            json={
                "name": "one_model",
                "source": "one_src",
                "query": "SELECT * FROM products",
                "primary_key": "id",
            },
        )
        assert model.status_code == 201
        dst = c.post(
            f"{base}/destinations",
            json={
                "name": "one_dst",
                "type": "sql",
                "url": f"sqlite:///{world.folder / 'one.db'}",
                "table": "products",
            },
        )
        assert dst.status_code == 201
        sync = c.post(
            f"{base}/syncs",
            json={
                "name": "one_sync",
                "model": "one_model",
                "destination": "one_dst",
                "schedule": {"every": "1h"},
            },
        )
        assert sync.status_code == 201, sync.text
        sync_id = sync.json()["id"]
        assert sync.json()["created_by_user_id"] == ws.users[Role.ADMIN]
        # the model now reads fewer rows: replaced whole, its name kept
        replaced = c.put(
            f"{base}/models/{model.json()['id']}",
            json={
                "source": "one_src",
                "query": "SELECT * FROM products WHERE id <= 2",
                "primary_key": "id",
            },
        )
        assert replaced.status_code == 200 and "id <= 2" in replaced.json()["query"]
        filed = c.patch(
            f"{base}/syncs/{sync_id}", json={"folder": "team", "labels": ["b", "a", "b"]}
        )
        assert filed.json()["folder"] == "team" and filed.json()["labels"] == ["a", "b"]
        unfiled = c.patch(f"{base}/syncs/{sync_id}", json={"folder": None})
        assert unfiled.json()["folder"] is None and unfiled.json()["labels"] == ["a", "b"]
        disabled = c.put(
            f"{base}/syncs/{sync_id}",
            json={"model": "one_model", "destination": "one_dst", "enabled": False},
        )
        assert disabled.json()["enabled"] is False and disabled.json()["name"] == "one_sync"
        assert disabled.json()["updated_by_user_id"] == ws.users[Role.ADMIN]
        # what is used cannot go
        used = c.delete(f"{base}/models/{model.json()['id']}")
        assert used.status_code == 409 and "one_sync" in used.json()["detail"]
        assert c.delete(f"{base}/destinations/{dst.json()['id']}").status_code == 409
        assert c.delete(f"{base}/syncs/{sync_id}").status_code == 204
        assert c.get(f"{base}/syncs/{sync_id}").status_code == 404
        assert c.delete(f"{base}/syncs/{sync_id}").status_code == 404
        for plural, found in (("models", model), ("destinations", dst), ("sources", src)):
            assert c.delete(f"{base}/{plural}/{found.json()['id']}").status_code == 204
        # the names are free again
        again = c.post(
            f"{base}/sources", json={"name": "one_src", "type": "sql", "url": f"sqlite:///{shop}"}
        )
        assert again.status_code == 201 and again.json()["id"] != src.json()["id"]


def test_deleting_a_sync_keeps_its_runs_and_stops_its_webhook(world):
    ws = world.alpha
    base = f"/api/v1/workspaces/{ws.id}"
    with world.as_(Role.ADMIN) as c:
        c.post(f"{base}/config", json=_doc(world, "gone"))
        sync = next(s for s in c.get(f"{base}/syncs").json()["items"] if s["name"] == "sync_gone")
        c.put(
            f"{base}/syncs/{sync['id']}",
            json={
                "model": "model_gone",
                "destination": "dst_gone",
                "webhook": True,
                "schedule": {"every": "1h"},
            },
        )
        secret, _ = world.served.app.in_workspace(ws.id).runs.webhook("sync_gone")
        run = c.post(f"{base}/syncs/{sync['id']}/runs").json()
        deadline = time.monotonic() + 60
        while c.get(f"{base}/runs/{run['id']}").json()["status"] != "succeeded":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert c.delete(f"{base}/syncs/{sync['id']}").status_code == 204
        kept = c.get(f"{base}/runs/{run['id']}").json()
        assert kept["status"] == "succeeded" and kept["sync_name"].startswith("sync_gone (deleted")
        assert c.get(f"{base}/entries", params={"run_id": run["id"]}).json()["items"]
        planned = c.get(f"{base}/runs", params={"sync_id": sync["id"], "status": "scheduled"})
        assert planned.status_code == 404  # the sync is gone, and so are its planned runs
        assert all(r["sync_id"] != sync["id"] for r in c.get(f"{base}/schedule").json())
    with world.served.client() as anonymous:
        assert anonymous.post(f"/api/v1/hooks/{secret}").status_code == 404


def test_the_audit_log_records_who_did_what(world):
    ws = world.alpha
    base = f"/api/v1/workspaces/{ws.id}"
    with world.as_(Role.OPERATOR) as op:
        sync_id = ws.syncs["a_products"]
        op.post(f"{base}/syncs/{sync_id}/disable")
        op.post(f"{base}/syncs/{sync_id}/enable")
        run = op.post(f"{base}/syncs/{sync_id}/runs").json()
        assert op.get(f"{base}/audit").status_code == 403
    with world.as_(Role.ADMIN) as c:
        c.post(f"{base}/config", json=_doc(world, "audited"))
        events = c.get(f"{base}/audit", params={"limit": 500}).json()["items"]
        by_action = {}
        for e in events:
            by_action.setdefault(e["action"], []).append(e)
        operator = ws.users[Role.OPERATOR]
        assert by_action["sync.disabled"][0]["user_id"] == operator
        assert by_action["sync.enabled"][0]["object_id"] == sync_id
        started = [e for e in by_action["run.started"] if e["detail"]["run_id"] == run["id"]]
        assert started and started[0]["user_id"] == operator
        created = {e["object_name"] for e in by_action["sync.created"]}
        assert "sync_audited" in created
        assert all(
            e["user_id"] == ws.users[Role.ADMIN]
            for e in by_action["source.created"]
            if e["object_name"] == "src_audited"
        )
        only_runs = c.get(f"{base}/audit", params={"action": "run.started"}).json()["items"]
        assert only_runs and {e["action"] for e in only_runs} == {"run.started"}
        ids = [e["id"] for e in events]
        assert ids == sorted(ids, reverse=True)
        walked, cursor = [], None
        while True:
            page = c.get(
                f"{base}/audit", params={"limit": 3, **({"cursor": cursor} if cursor else {})}
            ).json()
            walked += [e["id"] for e in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert walked == ids
    with world.as_(Role.ADMIN, "beta") as outsider:
        assert outsider.get(f"{base}/audit").status_code == 404
        mine = outsider.get(f"/api/v1/workspaces/{world.beta.id}/audit").json()["items"]
        assert all(e["object_name"] != "sync_audited" for e in mine)
