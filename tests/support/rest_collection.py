"""A plain REST collection, served by ``HttpApi`` (``api.handler = RestCollection()``):
``POST /items`` creates the item named by the body's ``id`` (201; 409 when it exists),
``PUT /items/{id}`` replaces it (200; 404 when missing), ``DELETE /items/{id}`` removes it
(204; 404 when missing), ``GET /items`` lists them."""

from __future__ import annotations

import threading
from typing import Any

from tests.support.http_api import Answer, Request


class RestCollection:
    def __init__(self, path: str = "/items") -> None:
        self.path = path
        self.items: dict[str, Any] = {}
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Answer:
        with self.lock:
            return self._answer(request)

    def _answer(self, request: Request) -> Answer:
        if request.path == self.path:
            if request.method == "GET":
                return Answer(body=list(self.items.values()))
            if request.method == "POST":
                if not isinstance(request.body, dict) or "id" not in request.body:
                    return Answer(status=422, body={"error": "an item needs an id"})
                name = str(request.body["id"])
                if name in self.items:
                    return Answer(status=409, body={"error": f"item {name} exists"})
                self.items[name] = request.body
                return Answer(status=201, body={**request.body, "id": f"item-{name}"})
            return Answer(status=405, body={"error": f"{request.method} {request.path}"})
        prefix = self.path + "/"
        if not request.path.startswith(prefix) or "/" in request.path[len(prefix) :]:
            return Answer(status=404, body={"error": f"no route {request.path}"})
        name = request.path[len(prefix) :]
        if request.method in ("PUT", "DELETE") and name not in self.items:
            return Answer(status=404, body={"error": f"no item {name}"})
        if request.method == "PUT":
            self.items[name] = request.body if isinstance(request.body, dict) else {}
            return Answer(body={**self.items[name], "id": f"item-{name}"})
        if request.method == "DELETE":
            del self.items[name]
            return Answer(status=204)
        return Answer(status=405, body={"error": f"{request.method} {request.path}"})
