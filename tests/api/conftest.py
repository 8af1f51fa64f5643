"""The API served for real (uvicorn on a free loopback port) over a launched engine, on
SQLite and on PostgreSQL, with two workspaces and a member of each role."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from syncwright.api.app import create_api
from syncwright.bootstrap.app import App
from syncwright.domain.access import Role
from tests.integration.conftest import app, backend, settings  # noqa: F401 (fixtures)
from tests.support.catalogue import Catalogue, configure
from tests.support.threaded_server import serving

_ids = itertools.count()


@dataclass
class Served:
    url: str
    app: App

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def served(app):  # noqa: F811 (the fixture imported above)
    with serving(create_api(app)) as url:
        yield Served(url=url, app=app)


@dataclass
class Workspace:
    id: str
    name: str
    #: A token per role of a member of this workspace.
    tokens: dict[Role, str] = field(default_factory=dict)
    users: dict[Role, str] = field(default_factory=dict)
    #: Sync name -> id.
    syncs: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    alpha: Workspace
    beta: Workspace
    served: Served
    folder: Path
    #: A file feed of alpha and its run that published a file (set by tests that need one).
    feed_sync: str = ""
    feed_run: str = ""

    def as_(self, role: Role, where: str = "alpha") -> httpx.Client:
        return self.served.client(getattr(self, where).tokens[role])


def _workspace(sw: App, label: str, folder: Path, syncs: dict[str, str]) -> Workspace:
    n = next(_ids)
    name = f"{label}-{n}"
    for role in Role:
        email = f"{role.value}-{label}-{n}@example.com"
        sw.accounts.create_user(email, name=f"{role.value} of {label}")
        sw.accounts.grant(email, name, role)
    ws = Workspace(id=sw.accounts.workspace_id(name), name=name)
    for role in Role:
        email = f"{role.value}-{label}-{n}@example.com"
        ws.tokens[role] = sw.accounts.create_token(email, "tests")[1]
        ws.users[role] = sw.accounts.user(email).id
    services = sw.in_workspace(ws.id)
    shop = Catalogue(folder / f"{name}.db")
    shop.put(*({"id": i} for i in range(1, 6)))
    for sync, extra in syncs.items():
        configure(
            services,  # type: ignore[arg-type] (the same services an App has)
            sync,
            source_url=shop.url,
            dest_url=f"sqlite:///{folder / (name + '-' + sync + '.db')}",
            base_dir=folder,
            sync=extra,
        )
    ws.syncs = {s.name: s.id for s in services.syncs.list()}
    return ws


@pytest.fixture(scope="module")
def world(served, tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    alpha = _workspace(
        served.app,
        "alpha",
        folder,
        {
            "a_products": ", folder: shop, labels: [catalogue]",
            "b_prices": ", labels: [catalogue, prices]",
            "c_planned": ", schedule: {every: 1h}, webhook: true",
        },
    )
    beta = _workspace(served.app, "beta", folder, {"d_other": ""})
    return World(alpha=alpha, beta=beta, served=served, folder=folder)
