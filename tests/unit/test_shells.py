"""The pages, the API and the CLI act through services: none of them reaches the store."""

from __future__ import annotations

import ast
from pathlib import Path

import syncwright

SHELLS = ("web", "api", "cli")
ROOT = Path(syncwright.__file__).parent


def _store_uses(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.relative_to(root)}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ("store", "_store")
    ]


def test_no_shell_reaches_past_the_services_to_the_store():
    files = [p for shell in SHELLS for p in (ROOT / shell).rglob("*.py")]
    assert len(files) > 10  # the walk found the shells
    found = [use for path in files for use in _store_uses(path)]
    assert found == [], f"these go around the services: {found}"


def test_the_check_sees_a_store_use(tmp_path):
    sample = tmp_path / "page.py"
    sample.write_text("def page(viewer):\n    return viewer.sw.store.accounts.user('u')\n")
    assert _store_uses(sample, tmp_path) == ["page.py:2"]
