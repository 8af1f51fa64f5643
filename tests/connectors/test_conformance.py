"""Every built-in connector passes the conformance kit (``syncwright.sdk.testing``)."""

from __future__ import annotations

import socket
import sqlite3

import pytest

from syncwright.connectors.files.feed import FileFeed
from syncwright.connectors.files.source import FileSource
from syncwright.connectors.http.destination import HttpDestination
from syncwright.connectors.http.source import HttpSource
from syncwright.connectors.sftp.destination import SftpDestination
from syncwright.connectors.sql.destination import SqlDestination
from syncwright.connectors.sql.source import SqlSource
from syncwright.sdk import ReadRequest
from syncwright.sdk.testing import DestinationContract, SourceContract, sample_batch
from tests.support.http_api import Answer


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- sources -----------------------------------------------------------------------------------
class TestSqlSource(SourceContract):
    source_class = SqlSource
    invalid_configs = [({}, "url"), ({"url": "sqlite://", "extra": 1}, "extra")]

    @pytest.fixture(autouse=True)
    def _data(self, shop):
        self.shop = shop

    def config(self):
        return {"url": self.shop.url}

    def request(self):
        return ReadRequest(query="SELECT * FROM products", primary_key=("id",))

    def failing_config(self):
        return {"url": "sqlite:////nonexistent-dir/none.db"}


class TestFileSource(SourceContract):
    source_class = FileSource
    invalid_configs = [
        ({}, "path"),
        ({"path": "x.bin"}, "format"),
        ({"path": "a.csv", "delimiter": ";;"}, "delimiter"),
    ]

    @pytest.fixture(autouse=True)
    def _data(self, tmp_path):
        self.folder = tmp_path
        lines = ["id,sku,price"] + [f"{i},SKU-{i},{i}.5" for i in range(1, 30)]
        (tmp_path / "products.csv").write_text("\n".join(lines) + "\n")

    def config(self):
        return {"path": str(self.folder / "*.csv")}

    def request(self):
        return ReadRequest(query="", primary_key=("id",))

    def failing_config(self):
        return {"path": str(self.folder / "missing.csv")}


class TestHttpSource(SourceContract):
    source_class = HttpSource
    invalid_configs = [
        ({"url": "ftp://x"}, "url"),
        ({"url": "http://x", "auth": {"type": "bearer"}}, "auth"),
        ({"url": "http://x", "pagination": {"type": "pages"}}, "pagination.type"),
    ]

    @pytest.fixture(autouse=True)
    def _data(self, api):
        rows = [{"id": i, "sku": f"SKU-{i}"} for i in range(1, 26)]

        def answer(request):
            page = int(request.query["page"])
            return Answer(body={"items": rows[(page - 1) * 10 : page * 10]})

        api.handler = answer
        self.api = api

    def config(self):
        return {"url": self.api.url, "records_path": "items", "pagination": {"type": "page"}}

    def request(self):
        return ReadRequest(query="/products", primary_key=("id",))

    def failing_config(self):
        return {"url": f"http://127.0.0.1:{closed_port()}", "retries": 0}


# -- destinations ------------------------------------------------------------------------------
class TestSqlDestination(DestinationContract):
    destination_class = SqlDestination
    invalid_configs = [({"url": "sqlite://"}, "table"), ({"url": 3, "table": "t"}, "url")]

    @pytest.fixture(autouse=True)
    def _database(self, tmp_path):
        self.path = tmp_path / "dest.db"
        with sqlite3.connect(self.path) as db:
            db.execute(
                "CREATE TABLE products (id INTEGER PRIMARY KEY, sku TEXT, price REAL"
                " CHECK (price >= 0), active BOOLEAN)"
            )

    def config(self):
        return {"url": f"sqlite:///{self.path}", "table": "products"}

    def bad_batch(self):
        rows = [
            {"id": i, "sku": f"S{i}", "price": -1.0 if i == 4 else 1.0, "active": True}
            for i in range(1, 8)
        ]
        return sample_batch(rows), 3

    def failing_config(self):
        return {"url": "sqlite:////nonexistent-dir/dest.db", "table": "products"}


class TestHttpDestination(DestinationContract):
    destination_class = HttpDestination
    invalid_configs = [
        ({"url": "http://x/{{ sku }}"}, "batch_size"),
        ({"url": "http://x", "method": "GET"}, "method"),
        ({"url": "http://x", "auth": {"type": "basic", "username": "u"}}, "auth"),
    ]

    @pytest.fixture(autouse=True)
    def _endpoint(self, api):
        def answer(request):
            if any(item["fields"]["sku"] == "BANNED" for item in request.body["items"]):
                return Answer(status=400, body={"error": "BANNED is not a sku"})
            return Answer(status=200)

        api.handler = answer
        self.api = api

    def config(self):
        return {"url": f"{self.api.url}/items", "batch_size": 4}

    def bad_batch(self):
        rows = [{"id": i, "sku": "BANNED" if i == 6 else f"S{i}"} for i in range(1, 10)]
        return sample_batch(rows), 5

    def failing_config(self):
        return {"url": f"http://127.0.0.1:{closed_port()}/items"}


class TestFileFeed(DestinationContract):
    destination_class = FileFeed
    invalid_configs = [({}, "directory"), ({"directory": "d", "format": "xml"}, "format")]

    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path):
        self.folder = tmp_path

    def config(self):
        return {"directory": str(self.folder / "feeds"), "format": "parquet"}

    def failing_config(self):
        (self.folder / "a-file").write_text("")
        return {"directory": str(self.folder / "a-file" / "feeds")}


class TestSftpDestination(DestinationContract):
    destination_class = SftpDestination
    invalid_configs = [
        ({"host": "h", "username": "u", "host_key": "ssh-ed25519 AAAA"}, "private_key"),
        ({"host": "h", "username": "u", "password": "p"}, "host_key"),
        ({"host": "h", "username": "u", "password": "p", "port": 0}, "port"),
    ]

    @pytest.fixture(autouse=True)
    def _server(self, sftp_server, tmp_path):
        self.server = sftp_server
        self.staging = tmp_path / "staging"

    def config(self):
        settings = self.server.destination(staging_directory=str(self.staging), confirm="none")
        settings.pop("type")
        return settings

    def failing_config(self):
        return {**self.config(), "password": "wrong"}
