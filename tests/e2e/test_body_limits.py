"""Request bodies are bounded on a real ``syncwright serve``: one above its route's limit (the
defaults: 1 MiB, 16 MiB for configuration documents) is refused with 413 before it is read,
parsed or authenticated, whatever its content type, declared or chunked; and a burst of
50 MB bodies leaves the server's memory where it was."""

from __future__ import annotations

import json
import signal
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.catalogue import Catalogue
from tests.support.cli import start_server, sw

MIB = 1024 * 1024
LIMIT = MIB  # SYNCWRIGHT_MAX_BODY's default
CONFIG_LIMIT = 16 * MIB  # SYNCWRIGHT_MAX_CONFIG_BODY's default


@dataclass
class Server:
    url: str
    pid: int
    token: str
    folder: Path

    def config(self) -> str:
        return f"{self.url}/api/v1/workspaces/{self.workspace}/config"

    @property
    def workspace(self) -> str:
        me = httpx.get(f"{self.url}/api/v1/me", headers=self.auth, timeout=30).json()
        return me["workspaces"][0]["id"]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("limits")
    sw(folder, "users", "create", "admin@example.com", "--role", "admin")
    token = sw(folder, "tokens", "create", "admin@example.com", "--name", "limits")
    process, url = start_server(folder)
    yield Server(
        url=url, pid=process.pid, token=token.stdout.strip().splitlines()[-1], folder=folder
    )
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0


def json_body(size: int, piece: int = 256 * 1024) -> Iterator[bytes]:
    """A JSON document of exactly ``size`` bytes, made while it is sent (the test never holds
    it): ``{"pad": "xxx..."}``."""
    head, tail = b'{"pad": "', b'"}'
    yield head
    left = size - len(head) - len(tail)
    while left > 0:
        yield b"x" * min(piece, left)
        left -= piece
    yield tail


def declared(size: int) -> dict[str, str]:
    """Headers that declare the body's length (without them, httpx sends a stream chunked)."""
    return {"Content-Length": str(size)}


def assert_too_large(answer: httpx.Response, limit: int) -> None:
    assert answer.status_code == 413, answer.text[:500]
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["title"] == "Content too large" and problem["status"] == 413
    assert f"limit of {limit} bytes" in problem["detail"]


def test_a_body_over_the_limit_is_refused_before_authentication_whatever_its_type(server):
    syncs = f"{server.url}/api/v1/workspaces/anything/syncs"
    # Without a token, a small body is refused as unauthenticated...
    assert httpx.post(syncs, json={}, timeout=30).status_code == 401
    size = LIMIT + 1
    with httpx.Client(timeout=120) as client:
        for content_type in (
            "application/json",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "text/plain",
            None,
        ):
            for url in (syncs, f"{server.url}/login", f"{server.url}/no/such/page"):
                headers = declared(size) | ({"Content-Type": content_type} if content_type else {})
                # ...and a large one as too large, before anyone asks who sends it.
                answer = client.post(url, content=json_body(size), headers=headers)
                assert_too_large(answer, LIMIT)
        # The same holds for a configuration document, at its own limit.
        config = f"{server.url}/api/v1/workspaces/anything/config"
        size = CONFIG_LIMIT + 1
        answer = client.post(config, content=json_body(size), headers=declared(size))
        assert_too_large(answer, CONFIG_LIMIT)
        # A body at the limit is read: the route then asks for a token.
        answer = client.post(syncs, content=json_body(LIMIT), headers=declared(LIMIT))
        assert answer.status_code == 401


def test_a_declared_length_over_the_limit_is_answered_before_the_body_is_sent(server):
    """The server answers the headers alone: it reads none of the body (none is sent)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as raw:
        raw.sendall(
            b"POST /api/v1/workspaces/anything/syncs HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
        )
        head = _response_head(raw)
    assert head.startswith(b"HTTP/1.1 413 "), head


def test_a_chunked_body_is_counted_and_no_more_is_read_past_the_limit(server):
    syncs = f"{server.url}/api/v1/workspaces/anything/syncs"
    with httpx.Client(timeout=120) as client:
        for url in (syncs, f"{server.url}/api/v1/workspaces/anything/config"):
            limit = CONFIG_LIMIT if url.endswith("/config") else LIMIT
            answer = client.post(url, content=json_body(limit + 1))  # no length: chunked
            assert answer.request.headers["transfer-encoding"] == "chunked"
            assert_too_large(answer, limit)
        # A form is refused by the page's own error page.
        answer = client.post(
            f"{server.url}/login",
            content=json_body(LIMIT + 1),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 413 and "larger than" in answer.text
    # A client that stops half way through a chunked body past the limit is answered at once:
    # the server read up to the limit and waits for nothing more.
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as raw:
        raw.sendall(
            b"POST /api/v1/workspaces/anything/syncs HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        piece = b"x" * (64 * 1024)
        for _ in range(LIMIT // len(piece) + 1):
            raw.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        head = _response_head(raw)  # the body's last chunk never comes
    assert head.startswith(b"HTTP/1.1 413 "), head


def _response_head(raw: socket.socket) -> bytes:
    got = b""
    while b"\r\n\r\n" not in got:
        data = raw.recv(65536)
        if not data:
            break
        got += data
    return got


def test_bodies_within_their_limits_are_read(server, tmp_path):
    shop = Catalogue(tmp_path / "shop.db")
    shop.put({"id": 1})
    # A configuration document between the two limits (2 MiB: long model queries).
    ids = ",".join(str(i) for i in range(1, 100_000))
    doc = {
        "sources": {"shop": {"type": "sql", "url": shop.url}},
        "models": {
            f"m{n}": {
                "source": "shop",
                "query": f"SELECT * FROM products WHERE id IN ({ids})",
                "primary_key": "id",
            }
            for n in range(4)
        },
    }
    body = json.dumps(doc).encode()
    assert LIMIT < len(body) < CONFIG_LIMIT
    answer = httpx.post(
        server.config(),
        params={"dry_run": "true"},
        content=body,
        headers={**server.auth, "Content-Type": "application/json"},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text[:500]
    assert {(c["kind"], c["name"]) for c in answer.json()["changes"]} == {
        ("source", "shop"),
        *(("model", f"m{n}") for n in range(4)),
    }
    # The larger limit is the configuration route's only.
    syncs = server.config().replace("/config", "/syncs")
    answer = httpx.post(syncs, content=body, headers=server.auth, timeout=120)
    assert_too_large(answer, LIMIT)
    # A normal body on another route is read as before.
    answer = httpx.post(
        f"{server.url}/api/v1/me/tokens", json={"name": "second"}, headers=server.auth
    )
    assert answer.status_code == 201, answer.text


def rss(pid: int) -> int:
    """The process's resident memory in bytes, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_a_burst_of_large_bodies_leaves_the_servers_memory_flat(server):
    """20 requests of 50 MB at once, half declared and half chunked, without a token: the
    server's resident memory stays within a few MiB of where it was (reading and parsing one
    such body took hundreds)."""
    size = 50_000_000
    url = f"{server.url}/api/v1/workspaces/anything/syncs"
    answers: list[int] = []

    def send(chunked: bool) -> None:
        headers = {"Content-Type": "application/json", **({} if chunked else declared(size))}
        with httpx.Client(timeout=600) as client:
            answers.append(client.post(url, content=json_body(size), headers=headers).status_code)

    def burst(count: int) -> None:
        senders = [threading.Thread(target=send, args=(n % 2 == 0,)) for n in range(count)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()

    burst(4)  # the server's first large requests: whatever it allocates once, it has now
    before = rss(server.pid)
    burst(20)
    after = rss(server.pid)
    assert after - before < 24 * MIB, f"{before / MIB:.0f} -> {after / MIB:.0f} MiB"
    assert answers == [413] * 24
