"""A real HTTP server on 127.0.0.1 whose answers a test scripts: statuses, Retry-After,
per-item errors, slow and malformed answers. It records every request it gets, and can hold
requests unanswered until the test releases them (``hold``): a run sending to it is then
provably live for as long as the test needs, however slow the machine."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw: bytes = b""


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    delay: float = 0.0


Handler = Callable[[Request], Answer]

#: Seconds a held request waits at most (a test that fails before releasing must not leave
#: the client hanging for ever); ``close`` releases them too.
HOLD_LIMIT = 300.0


class HttpApi:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.options = 0
        self.handler: Handler = lambda request: Answer()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        #: The requests waiting unanswered at the gate now (see ``hold``).
        self.held: list[Request] = []
        self._holds: dict[str | None, int] = {}
        self._releases = 0
        self._gate = threading.Condition(self.lock)
        api = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_OPTIONS(self) -> None:  # connection checks: answered, not scripted
                api.options += 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=split.path,
                    query=dict(parse_qsl(split.query)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=json.loads(raw) if raw else None,
                    raw=raw,
                )
                with api.lock:
                    api.requests.append(request)
                    api.in_flight += 1
                    api.most_in_flight = max(api.most_in_flight, api.in_flight)
                try:
                    api._wait_at_gate(request)
                    answer = api.handler(request)
                    if answer.delay:
                        time.sleep(answer.delay)
                finally:
                    with api.lock:
                        api.in_flight -= 1
                payload = (
                    answer.raw
                    if answer.raw is not None
                    else b""
                    if answer.body is None
                    else json.dumps(answer.body).encode()
                )
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def hold(self, after: int = 0, path: str | None = None) -> None:
        """From now on let ``after`` more requests (to ``path``, or to any path) through, then
        hold each one that comes, unanswered, until ``release``. A hold per path counts on
        its own. The held requests are in ``held``, already in ``requests``; the handler
        answers them once released."""
        with self.lock:
            self._holds[path] = after

    def release(self) -> None:
        """Answer every held request, and hold no more."""
        with self.lock:
            self._holds.clear()
            self._releases += 1
            self._gate.notify_all()

    def _wait_at_gate(self, request: Request) -> None:
        with self.lock:
            key = request.path if request.path in self._holds else None
            if key not in self._holds:
                return
            if self._holds[key] > 0:
                self._holds[key] -= 1
                return
            releases = self._releases
            self.held.append(request)
            try:
                self._gate.wait_for(lambda: self._releases != releases, timeout=HOLD_LIMIT)
            finally:
                self.held[:] = [r for r in self.held if r is not request]

    def sent_items(self) -> list[Any]:
        """Every item the server received in a batch body ``{"items": [...]}``."""
        found = []
        for request in self.requests:
            if isinstance(request.body, dict) and "items" in request.body:
                found.extend(request.body["items"])
        return found

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
