"""Error groups: failure reasons with their particulars masked, so alike failures group."""

from __future__ import annotations

import re

GROUP_LENGTH = 200

_MASKS = (
    (re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`"), "'…'"),
    (re.compile(r"\b[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b"), "<id>"),
    (re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b"), "<email>"),
    (re.compile(r"https?://\S+"), "<url>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{12,}\b"), "<id>"),
    # Numbers, and words with digits (SKU-42, v2), but not an HTTP status: it tells groups apart.
    (re.compile(r"(?<!HTTP )(?<!status )\b[A-Za-z]*\d[\w-]*"), "<n>"),
)
_SPACES = re.compile(r"\s+")


def error_group(reason: str | None) -> str | None:
    """The reason with quoted values, ids, e-mails, URLs and numbers masked.

    >>> error_group("row 12: value 'abc' too long (max 40)")
    "row <n>: value '…' too long (max <n>)"
    """
    if reason is None:
        return None
    text = reason
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    text = _SPACES.sub(" ", text).strip()
    return text[: GROUP_LENGTH - 1] + "…" if len(text) > GROUP_LENGTH else text
