"""JSON templates: ``"{{ name }}"`` alone is replaced by the value (any JSON type); inside a
longer string it is replaced by the value as text."""

from __future__ import annotations

import json
import re
from typing import Any

_WHOLE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
_PART = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def render(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        return {k: render(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, values) for v in template]
    if isinstance(template, str):
        whole = _WHOLE.match(template)
        if whole:
            return values.get(whole.group(1))
        return _PART.sub(lambda m: _text(values.get(m.group(1))), template)
    return template


def names(template: Any) -> set[str]:
    """Every name a template uses."""
    return set(_PART.findall(json.dumps(template)))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)
