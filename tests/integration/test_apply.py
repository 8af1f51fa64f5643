"""Config as code: idempotent apply, and a bad file refused whole with the wrong field named."""

from __future__ import annotations

import sqlite3

import pytest

from syncwright.bootstrap.app import App
from syncwright.bootstrap.settings import Settings
from syncwright.domain.errors import ConfigError
from syncwright.services.config_file import parse_config
from tests.support.examples import EXAMPLE_CONFIG

GOOD = EXAMPLE_CONFIG.replace("${WAREHOUSE_URL}", "sqlite:///warehouse.db")


@pytest.fixture
def app(tmp_path):
    # The source's database answers the check, and the model's query runs on it.
    with sqlite3.connect(tmp_path / "shop.db") as db:
        db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT)")
    with App(Settings.from_env({"SYNCWRIGHT_HOME": str(tmp_path / "home")})) as opened:
        opened.connectors.paths[("destination", "append_only")] = (
            "tests.support.connectors:AppendOnlyDestination"
        )
        yield opened


def actions(changes):
    return {(c.kind, c.name): c.action for c in changes}


def test_apply_creates_then_changes_nothing_then_updates(app, tmp_path):
    first = actions(app.configs.apply(parse_config(GOOD), base_dir=tmp_path))
    assert set(first.values()) == {"created"} and len(first) == 4
    again = actions(app.configs.apply(parse_config(GOOD), base_dir=tmp_path))
    assert set(again.values()) == {"unchanged"}
    edited = actions(
        app.configs.apply(
            parse_config(GOOD.replace("mode: mirror", "mode: upsert")), base_dir=tmp_path
        )
    )
    assert edited[("sync", "products_to_warehouse")] == "updated"
    assert edited[("model", "products")] == "unchanged"
    sync = app.store.config.sync_by_name(app.workspace_id, "products_to_warehouse")
    assert sync.write_mode.value == "upsert"


def test_relative_sqlite_paths_resolve_against_the_file(app, tmp_path):
    app.configs.apply(parse_config(GOOD), base_dir=tmp_path)
    source = app.store.config.find("source", app.workspace_id, "shop")
    assert source["config"]["url"] == f"sqlite:///{tmp_path / 'shop.db'}"


def test_a_file_may_refer_to_objects_applied_before(app, tmp_path):
    app.configs.apply(parse_config(GOOD), base_dir=tmp_path)
    more = "syncs: {second: {model: products, destination: warehouse}}"
    assert actions(app.configs.apply(parse_config(more), base_dir=tmp_path)) == {
        ("sync", "second"): "created"
    }


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (
            ("model: products,", "model: nothing,"),
            "syncs.products_to_warehouse.model",
            "no model named 'nothing'",
        ),
        (("source: shop,", "source: elsewhere,"), "models.products.source", "no source named"),
        ((", table: products", ""), "destinations.warehouse.table", "required"),
        (
            ('type: sql, url: "sqlite:///shop.db"', "type: ftp, url: x"),
            "sources.shop.type",
            "unknown source type 'ftp'",
        ),
        (
            ("mode: mirror,", "mode: mirror, detection: cursor,"),
            "syncs.products_to_warehouse.detection",
            "no cursor column",
        ),
    ],
)
def test_a_bad_file_is_refused_whole_naming_the_field(app, tmp_path, edit, field, words):
    with pytest.raises(ConfigError) as caught:
        app.configs.apply(parse_config(GOOD.replace(*edit)), base_dir=tmp_path)
    assert caught.value.field == field
    assert words in str(caught.value)
    for kind in ("source", "model", "destination", "sync"):
        assert app.store.config.names(kind, app.workspace_id) == []


def test_a_sync_asking_what_its_destination_lacks_is_refused(app, tmp_path):
    text = GOOD.replace(
        '{type: sql, url: "sqlite:///warehouse.db", table: products}', "{type: append_only}"
    )
    with pytest.raises(ConfigError) as caught:
        app.configs.apply(parse_config(text), base_dir=tmp_path)
    assert caught.value.field == "syncs.products_to_warehouse.mode"
    assert "cannot delete" in str(caught.value)
    ok = text.replace("mode: mirror", "mode: insert")
    assert len(app.configs.apply(parse_config(ok), base_dir=tmp_path)) == 4


def test_dry_run_applies_nothing(app, tmp_path):
    changes = app.configs.apply(parse_config(GOOD), base_dir=tmp_path, dry_run=True)
    assert set(actions(changes).values()) == {"created"}
    assert app.store.config.names("sync", app.workspace_id) == []


def test_a_broken_connector_is_reported_by_name(app):
    registry = app.connectors
    registry.paths[("source", "broken")] = "tests.support.no_such_module:Nothing"
    with pytest.raises(ConfigError, match="'broken' failed to load"):
        registry.source_class("broken")
    assert "source.broken" in registry.broken
    assert registry.source_class("sql").type == "sql"
