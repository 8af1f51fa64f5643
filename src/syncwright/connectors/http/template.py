"""JSON templates: ``"{{ name }}"`` alone is replaced by the value (any JSON type); inside a
longer string it is replaced by the value as text. A name may be dotted (``{{ key.id }}``)
to reach into an object. In a URL, each value is percent-encoded (``render_url``)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*"
_WHOLE = re.compile(r"^\{\{\s*(" + _NAME + r")\s*\}\}$")
_PART = re.compile(r"\{\{\s*(" + _NAME + r")\s*\}\}")


def render(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        return {k: render(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, values) for v in template]
    if isinstance(template, str):
        whole = _WHOLE.match(template)
        if whole:
            return lookup(values, whole.group(1))
        return _PART.sub(lambda m: _text(lookup(values, m.group(1))), template)
    return template


def render_url(template: str, values: dict[str, Any]) -> str:
    """The URL with each name replaced by its value as text, percent-encoded (``/`` too), so
    a value is one path segment or one query value whatever it holds."""
    return _PART.sub(lambda m: quote(_text(lookup(values, m.group(1))), safe=""), template)


def names(template: Any) -> set[str]:
    """Every name a template uses."""
    return set(_PART.findall(json.dumps(template)))


def lookup(values: dict[str, Any], name: str) -> Any:
    """The value of a name: the value so named, else a dotted path into objects; None when a
    step is missing."""
    if name in values:
        return values[name]
    found: Any = values
    for step in name.split("."):
        if not isinstance(found, dict):
            return None
        found = found.get(step)
    return found


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)
