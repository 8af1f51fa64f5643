"""Connector secrets are sealed in the store, opened for the connectors, masked for people,
and need the installation's key."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa
import yaml

from syncwright.bootstrap.app import App
from syncwright.bootstrap.settings import Settings
from syncwright.domain.errors import ConfigError
from syncwright.services.config_file import parse_config
from syncwright.storage.secrets import PREFIX
from syncwright.storage.tables import destinations, sources


def _doc(tmp_path, password="hunter22", token="tok-very-secret"):
    return parse_config(
        yaml.safe_dump(
            {
                "sources": {
                    "locked": {"type": "sql", "url": f"postgresql://bob:{password}@127.0.0.1:1/x"}
                },
                "destinations": {
                    "hook": {
                        "type": "http",
                        "url": "http://127.0.0.1:1/items",
                        "auth": {"type": "bearer", "token": token},
                    }
                },
            }
        )
    )


def _raw(app, table, name):
    with app.store.engine.connect() as conn:
        return conn.execute(
            sa.select(table.c.config).where(
                table.c.name == name, table.c.workspace_id == app.workspace_id
            )
        ).scalar_one()


def test_secrets_are_sealed_at_rest_and_opened_for_connectors(app, settings, tmp_path):
    assert (settings.home / "secret.key").stat().st_mode & 0o777 == 0o600
    changes = app.configs.apply(_doc(tmp_path), base_dir=tmp_path, check_connections=False)
    assert {c.action for c in changes} == {"created"}
    raw_source, raw_dest = _raw(app, sources, "locked"), _raw(app, destinations, "hook")
    assert raw_source["url"].startswith(PREFIX) and "hunter22" not in str(raw_source)
    assert raw_dest["auth"]["token"].startswith(PREFIX) and "tok-very" not in str(raw_dest)
    assert raw_dest["url"] == "http://127.0.0.1:1/items"  # no secret, left plain
    found = app.store.config.find("destination", app.workspace_id, "hook")
    assert found["config"]["auth"]["token"] == "tok-very-secret"
    source = app.store.config.find("source", app.workspace_id, "locked")
    assert source["config"]["url"] == "postgresql://bob:hunter22@127.0.0.1:1/x"
    # the same file again changes nothing (sealing is deterministic); a new secret does
    again = app.configs.apply(_doc(tmp_path), base_dir=tmp_path, check_connections=False)
    assert {c.action for c in again} == {"unchanged"}
    rotated = app.configs.apply(
        _doc(tmp_path, token="tok-new"), base_dir=tmp_path, check_connections=False
    )
    assert {(c.kind, c.action) for c in rotated} == {
        ("source", "unchanged"),
        ("destination", "updated"),
    }


def test_another_key_cannot_open_them(app, settings, tmp_path):
    app.configs.apply(_doc(tmp_path, token="tok-keyed"), base_dir=tmp_path, check_connections=False)
    other = Settings(**{**settings.__dict__, "secret_key": base64.b64encode(bytes(64)).decode()})
    with App(other) as stranger, pytest.raises(ConfigError) as refused:
        stranger.store.config.find("destination", stranger.workspace_id, "hook")
    assert refused.value.field == "SYNCWRIGHT_SECRET_KEY"
    with pytest.raises(ConfigError) as short:
        App(Settings(**{**settings.__dict__, "secret_key": "AAAA"}))
    assert short.value.field == "SYNCWRIGHT_SECRET_KEY"
