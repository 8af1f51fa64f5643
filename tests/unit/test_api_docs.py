"""The API's reference stays whole: every route is in docs/api.md and described in OpenAPI."""

from __future__ import annotations

from pathlib import Path

from syncwright.api.app import create_api

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _operations():
    spec = create_api(None).openapi()  # type: ignore[arg-type] (the spec needs no services)
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def test_every_route_is_in_the_api_reference():
    text = (DOCS / "api.md").read_text()
    found = list(_operations())
    assert len(found) > 10
    missing = [f"{m} {p}" for m, p, _ in found if f"`{m} {p}`" not in text]
    assert not missing, f"not in docs/api.md: {missing}"


def test_every_route_has_a_description_and_declares_its_problems():
    for method, path, operation in _operations():
        assert operation.get("description", "").strip(), f"{method} {path} has no description"
        if path.startswith("/api/v1/") and not path.startswith("/api/v1/hooks"):
            assert "401" in operation["responses"], f"{method} {path}"
