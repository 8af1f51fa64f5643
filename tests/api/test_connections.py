"""Sources, models and destinations over real HTTP: read with secrets masked, a model's
first rows, connection checks that tell why they fail."""

from __future__ import annotations

import yaml

from syncwright.domain.access import Role
from syncwright.services.config_file import parse_config


def _secretive(world):
    """A source with a password in its URL and an HTTP destination with a bearer token."""
    doc = {
        "sources": {"locked": {"type": "sql", "url": "postgresql://bob:hunter22@127.0.0.1:1/x"}},
        "models": {"locked_rows": {"source": "locked", "query": "SELECT 1", "primary_key": "id"}},
        "destinations": {
            "hook": {
                "type": "http",
                "url": "http://127.0.0.1:1/items",
                "auth": {"type": "bearer", "token": "tok-very-secret"},
            }
        },
        "syncs": {"locked_to_hook": {"model": "locked_rows", "destination": "hook"}},
    }
    services = world.served.app.in_workspace(world.alpha.id)
    services.configs.apply(
        parse_config(yaml.safe_dump(doc)), base_dir=world.folder, check_connections=False
    )
    return services


def test_sources_and_destinations_come_back_with_secrets_masked(world):
    services = _secretive(world)
    base = f"/api/v1/workspaces/{world.alpha.id}"
    with world.as_(Role.VIEWER) as c:
        sources = {s["name"]: s for s in c.get(f"{base}/sources").json()["items"]}
        destinations = {d["name"]: d for d in c.get(f"{base}/destinations").json()["items"]}
        locked = c.get(f"{base}/sources/{sources['locked']['id']}").json()
        hook = c.get(f"{base}/destinations/{destinations['hook']['id']}").json()
        every_answer = c.get(f"{base}/sources").text + c.get(f"{base}/destinations").text
    assert locked["type"] == "sql" and "bob" in locked["config"]["url"]
    assert "hunter22" not in locked["config"]["url"]
    assert hook["config"]["auth"]["token"] == "********"
    assert "hunter22" not in every_answer and "tok-very-secret" not in every_answer
    # what is stored still works: the secret is kept, only hidden
    stored = services.connections._row("destination", hook["id"])["config"]
    assert stored["auth"]["token"] == "tok-very-secret"


def test_a_models_preview_reads_its_first_rows(world):
    base = f"/api/v1/workspaces/{world.alpha.id}"
    with world.as_(Role.VIEWER) as c:
        models = {m["name"]: m for m in c.get(f"{base}/models").json()["items"]}
        model = models["a_products_model"]
        assert c.get(f"{base}/models/{model['id']}").json()["primary_key"] == ["id"]
        preview = c.get(f"{base}/models/{model['id']}/preview", params={"limit": 3}).json()
        assert preview["columns"][:2] == ["id", "sku"]
        assert [r["id"] for r in preview["rows"]] == [1, 2, 3]
        too_many = c.get(f"{base}/models/{model['id']}/preview", params={"limit": 1000})
        assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "limit"


def test_a_preview_of_an_unreachable_source_says_why(world):
    _secretive(world)
    base = f"/api/v1/workspaces/{world.alpha.id}"
    with world.as_(Role.VIEWER) as c:
        models = {m["name"]: m for m in c.get(f"{base}/models").json()["items"]}
        answer = c.get(f"{base}/models/{models['locked_rows']['id']}/preview")
    assert answer.status_code == 502
    assert answer.headers["content-type"] == "application/problem+json"
    assert "hunter22" not in answer.text


def test_connection_checks_answer_ok_or_the_reason(world):
    _secretive(world)
    base = f"/api/v1/workspaces/{world.alpha.id}"
    with world.as_(Role.OPERATOR) as c:
        sources = {s["name"]: s["id"] for s in c.get(f"{base}/sources").json()["items"]}
        destinations = {d["name"]: d["id"] for d in c.get(f"{base}/destinations").json()["items"]}
        good = c.post(f"{base}/sources/{sources['a_products_src']}/check").json()
        assert good == {"ok": True, "problem": None}
        bad = c.post(f"{base}/sources/{sources['locked']}/check").json()
        assert bad["ok"] is False and bad["problem"] and "hunter22" not in bad["problem"]
        down = c.post(f"{base}/destinations/{destinations['hook']}/check").json()
        assert down["ok"] is False and down["problem"]
    with world.as_(Role.VIEWER) as v:
        assert v.post(f"{base}/sources/{sources['a_products_src']}/check").status_code == 403
    with world.as_(Role.ADMIN, "beta") as outsider:
        assert outsider.get(f"{base}/sources/{sources['locked']}").status_code == 404
    with world.as_(Role.ADMIN, "beta") as beta_admin:
        through_beta = f"/api/v1/workspaces/{world.beta.id}/sources/{sources['locked']}"
        assert beta_admin.get(through_beta).status_code == 404


def test_the_lists_come_in_pages_by_name(world):
    _secretive(world)
    base = f"/api/v1/workspaces/{world.alpha.id}"
    with world.as_(Role.VIEWER) as c:
        for plural in ("sources", "models", "destinations"):
            whole = [x["name"] for x in c.get(f"{base}/{plural}").json()["items"]]
            assert whole == sorted(whole) and len(whole) >= 3
            walked, cursor = [], None
            while True:
                params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
                page = c.get(f"{base}/{plural}", params=params).json()
                walked += [x["name"] for x in page["items"]]
                cursor = page["next_cursor"]
                if not cursor:
                    break
            assert walked == whole
