"""A workspace admin's configuration document cannot aim a connector at the installation:
the store, the key or the home are refused with 422 naming the field, and nothing of the
document is applied (the attack: a SQL destination on the store's own file, writing a
membership row, made alpha's admin an admin of beta)."""

from __future__ import annotations

from syncwright.domain.access import Role


def _doc(world, destination, source=None):
    shop = world.folder / f"{world.alpha.name}.db"
    return {
        "sources": {"attack_src": source or {"type": "sql", "url": f"sqlite:///{shop}"}},
        "models": {
            "attack_m": {
                "source": "attack_src",
                "query": "SELECT * FROM products",
                "primary_key": "id",
            }
        },
        "destinations": {"attack_dst": destination},
        "syncs": {"attack": {"model": "attack_m", "destination": "attack_dst"}},
    }


def test_a_document_aiming_at_the_installation_is_refused_whole(world):
    settings = world.served.app.settings
    base = f"/api/v1/workspaces/{world.alpha.id}"
    store = settings.database_url  # the store's own SQLite file, or its PostgreSQL database
    key = settings.home / "secret.key"
    attacks = [
        (
            _doc(world, {"type": "sql", "url": store, "table": "memberships"}),
            "destinations.attack_dst.url",
        ),
        (
            _doc(
                world,
                {"type": "sql", "url": f"sqlite:///{world.folder}/out.db", "table": "t"},
                source={"type": "sql", "url": store},
            ),
            "sources.attack_src.url",
        ),
        (
            _doc(
                world,
                {"type": "sql", "url": f"sqlite:///{world.folder}/out.db", "table": "t"},
                source={"type": "files", "path": str(key), "format": "csv"},
            ),
            "sources.attack_src.path",
        ),
        (
            _doc(world, {"type": "file_feed", "directory": str(settings.home / "feed")}),
            "destinations.attack_dst.directory",
        ),
    ]
    with world.as_(Role.ADMIN) as admin:
        members_before = admin.get(f"/api/v1/workspaces/{world.beta.id}/members")
        for doc, field in attacks:
            for dry_run in (True, False):
                answer = admin.post(f"{base}/config", params={"dry_run": dry_run}, json=doc)
                assert answer.status_code == 422, answer.text
                assert field in answer.text and "installation's own" in answer.text
        names = {s["name"] for s in admin.get(f"{base}/syncs").json()["items"]}
        assert "attack" not in names
        # alpha's admin is still nothing in beta.
        assert members_before.status_code == 404
        assert admin.get(f"/api/v1/workspaces/{world.beta.id}/syncs").status_code == 404
