"""Connection checks: at apply time and with ``syncwright check``; nothing half-applied."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import yaml

from syncwright.domain.errors import ConfigError, NotFound
from tests.connectors.conftest import apply_sync, catalogue_model, sql_source


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_destination_is_refused_at_apply(app, name, shop, tmp_path):
    with pytest.raises(ConfigError) as refused:
        apply_sync(
            app,
            name,
            source=sql_source(shop),
            model=catalogue_model(),
            destination={"type": "http", "url": f"http://127.0.0.1:{closed_port()}/hook"},
            base_dir=tmp_path,
        )
    assert refused.value.field == f"destinations.{name}_dst"
    assert "cannot connect" in str(refused.value) and "ConnectError" in str(refused.value)
    assert app.store.config.find("source", app.workspace_id, f"{name}_src") is None


def test_a_missing_sqlite_source_and_refused_credentials_are_refused(
    app, name, shop, api, tmp_path
):
    with pytest.raises(ConfigError) as refused:
        apply_sync(
            app,
            name,
            source={"type": "sql", "url": f"sqlite:///{tmp_path / 'missing.db'}"},
            model=catalogue_model(),
            destination={"type": "file_feed", "directory": "out"},
            base_dir=tmp_path,
        )
    assert refused.value.field == f"sources.{name}_src"
    assert "no database file" in str(refused.value)
    assert not (tmp_path / "missing.db").exists()

    from tests.support.http_api import Answer

    api.handler = lambda request: Answer(status=401, body={"error": "token expired"})
    with pytest.raises(ConfigError, match="HTTP 401 Unauthorized: token expired"):
        apply_sync(
            app,
            name,
            source={"type": "http", "url": api.url, "auth": {"type": "bearer", "token": "t"}},
            destination={"type": "file_feed", "directory": "out"},
            base_dir=tmp_path,
        )


def test_stored_connections_are_tested_by_name(app, name, shop, tmp_path):
    apply_sync(
        app,
        name,
        source=sql_source(shop),
        model=catalogue_model(),
        destination={"type": "file_feed", "directory": "out"},
        base_dir=tmp_path,
    )
    (result,) = app.configs.test_stored(f"{name}_src")
    assert result.kind == "source" and result.problem is None
    shop.path.unlink()
    (result,) = app.configs.test_stored(f"{name}_src")
    assert "no database file" in result.problem
    with pytest.raises(NotFound):
        app.configs.test_stored("nothing_by_this_name")


def test_cli_check_and_artifacts_latest(tmp_path, shop):
    env = {"SYNCWRIGHT_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    config = tmp_path / "sw.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "sources": {"shop": sql_source(shop)},
                "models": {
                    "products": {"source": "shop", "primary_key": "id", **catalogue_model()}
                },
                "destinations": {
                    "feed": {"type": "file_feed", "directory": "feeds", "name": "products"},
                    "hook": {"type": "http", "url": f"http://127.0.0.1:{closed_port()}/"},
                },
                "syncs": {"products_feed": {"model": "products", "destination": "feed"}},
            }
        )
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syncwright", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )

    checked = cli("check", "-f", str(config))
    assert checked.returncode == 1
    assert "ok     source shop" in checked.stdout
    assert "failed destination hook: " in checked.stdout

    refused = cli("apply", "-f", str(config))
    assert refused.returncode == 2 and "destinations.hook" in refused.stderr

    doc = yaml.safe_load(config.read_text())
    del doc["destinations"]["hook"]
    config.write_text(yaml.safe_dump(doc))
    assert cli("apply", "-f", str(config)).returncode == 0
    assert cli("check", "shop", "feed").returncode == 0

    missing = cli("artifacts", "latest", "products_feed")
    assert missing.returncode == 2 and "published no file yet" in missing.stderr
    assert cli("run", "products_feed").returncode == 0
    latest = cli("artifacts", "latest", "products_feed")
    assert latest.stdout.strip() == str(tmp_path / "feeds" / "products-latest.csv")
    assert "20 rows" in latest.stderr and "sha256:" in latest.stderr


def test_nested_secrets_are_stored_but_never_shown():
    from syncwright.connectors.http.destination import HttpDestinationConfig

    config = HttpDestinationConfig.parse(
        {"url": "http://x", "auth": {"type": "basic", "username": "u", "password": "hunter2"}}
    )
    assert config.stored()["auth"]["password"] == "hunter2"
    assert config.public()["auth"] == {
        "type": "basic",
        "token": None,
        "username": "u",
        "password": "********",
        "header": "X-API-Key",
    }
    assert "hunter2" not in repr(config)
