"""Turning a recorded payload (JSON) back into typed values for a destination."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Callable

from syncwright.sdk.changes import Column


def _converter(arrow_type: str) -> Callable[[Any], Any] | None:
    name = arrow_type.lower()
    if name.startswith("timestamp"):
        return datetime.fromisoformat
    if name.startswith("date"):
        return date.fromisoformat
    if name.startswith("time"):
        return time.fromisoformat
    if name.startswith("decimal"):
        return lambda v: Decimal(str(v))
    return None


class Codec:
    """Decodes payloads of one model, converting the columns JSON cannot carry natively."""

    def __init__(self, columns: tuple[Column, ...]) -> None:
        self.converters = {
            c.name: conv for c in columns if (conv := _converter(c.type)) is not None
        }

    def decode(self, payload: str) -> dict[str, Any]:
        row: dict[str, Any] = json.loads(payload)
        for name, convert in self.converters.items():
            value = row.get(name)
            if isinstance(value, (str, int, float)):
                row[name] = convert(value)
        return row
