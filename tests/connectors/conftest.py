from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from syncwright.bootstrap.app import App, EngineRole
from syncwright.bootstrap.settings import Settings
from syncwright.services.config_file import parse_config
from tests.support.catalogue import Catalogue
from tests.support.http_api import HttpApi
from tests.support.sftp_server import SftpServer
from tests.support.sshd import SSHD, Sshd

_ids = itertools.count()

#: Retries fast enough for tests, same shape as the default policy.
QUICK_RETRY = {"retries": 3, "first_delay": 0.05, "factor": 2.0, "max_delay": 2.0}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A launched engine on an embedded SQLite store (connectors do not depend on the store)."""
    home = tmp_path_factory.mktemp("home")
    settings = Settings.from_env({"SYNCWRIGHT_HOME": str(home), "SYNCWRIGHT_POLL_INTERVAL": "0.05"})
    with App(settings, role=EngineRole.EXECUTE) as launched:
        yield launched


@pytest.fixture
def name(request):
    return f"c{next(_ids)}_" + request.node.name.split("[")[0].removeprefix("test_")[:40]


@pytest.fixture
def api():
    server = HttpApi()
    yield server
    server.close()


@pytest.fixture
def sftp_server(tmp_path):
    server = SftpServer(tmp_path / "sftp-root")
    yield server
    server.close()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """A real OpenSSH sshd on a free loopback port, taking the client keys it generated.
    Skipped only when sshd is not installed (CI installs openssh-server); any other trouble
    starting it fails the tests."""
    if SSHD is None:
        pytest.skip("/usr/sbin/sshd is missing: install openssh-server")
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.close()


@pytest.fixture
def shop(tmp_path):
    catalogue = Catalogue(tmp_path / "shop.db")
    catalogue.put(*({"id": i, "price": float(i)} for i in range(1, 21)))
    return catalogue


def apply_sync(
    app: App,
    name: str,
    *,
    source: dict,
    destination: dict,
    model: dict | None = None,
    sync: dict | None = None,
    base_dir: Path,
    check: bool = True,
) -> str:
    """Configure one source, model, destination and sync, named after the test."""
    doc = {
        "sources": {f"{name}_src": source},
        "models": {
            f"{name}_model": {"source": f"{name}_src", "primary_key": "id", **(model or {})}
        },
        "destinations": {f"{name}_dst": destination},
        "syncs": {
            name: {
                "model": f"{name}_model",
                "destination": f"{name}_dst",
                "retry": QUICK_RETRY,
                **(sync or {}),
            }
        },
    }
    app.configs.apply(parse_config(yaml.safe_dump(doc)), base_dir=base_dir, check_connections=check)
    return name


def sql_source(catalogue: Catalogue) -> dict:
    return {"type": "sql", "url": catalogue.url}


def catalogue_model() -> dict:
    return {"query": "SELECT * FROM products", "reference": "sku"}


def by_reference(app: App, run) -> dict[str, object]:
    return {e.reference: e for e in app.report.entries(run_id=run.id, limit=10_000)}
