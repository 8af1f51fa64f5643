"""Error groups: failure reasons with their particulars masked, so alike failures group."""

from __future__ import annotations

import re
from http import HTTPStatus

GROUP_LENGTH = 200

_MASKS = (
    (re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`"), "'…'"),
    (re.compile(r"\b[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b"), "<id>"),
    (re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b"), "<email>"),
    (re.compile(r"https?://\S+"), "<url>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{12,}\b"), "<id>"),
    # Numbers, and whole references with a digit in them (SKU-42, DEMO-SH-1, v2): one
    # cause for many items is one group.
    (re.compile(r"(?<![\w<])[A-Za-z_-]*\d[\w-]*"), "<n>"),
)
#: HTTP status codes, which tell causes apart and stay as written: after "HTTP" (or
#: "HTTP/1.1", kept too), "status" or "code", or before their reason phrase ("422
#: Unprocessable").
_STATUSES = re.compile(
    r"(?:(?<=HTTP )|(?<=HTTP/\d )|(?<=HTTP/\d\.\d )|(?i:(?<=status )|(?<=status: )|(?<=status=)"
    r"|(?<=code )|(?<=code: )|(?<=code=)))[1-5]\d\d\b"
    r"|\b[1-5]\d\d(?= [A-Z])"
    r"|\bHTTP/\d(?:\.\d)?"
)
#: Where a kept status waits while the rest is masked: characters no mask matches.
_PLACE = 0xE000
_SPACES = re.compile(r"\s+")


def _before_its_phrase(found: re.Match[str]) -> bool:
    """A status code written before its own reason phrase ("422 Unprocessable Entity"), or
    after "HTTP", "status" or "code" (what the pattern's other branches found)."""
    start = found.start()
    before = found.string[max(0, start - 12) : start].lower()
    if before.rstrip(" :=").endswith(("http", "status", "code")) or "http/" in before:
        return True
    try:
        phrase = HTTPStatus(int(found.group(0))).phrase
    except ValueError:
        return False
    return found.string[found.end() + 1 :].startswith(phrase.split()[0])


def error_group(reason: str | None) -> str | None:
    """The reason with quoted values, ids, e-mails, URLs and numbers masked.

    >>> error_group("row 12: value 'abc' too long (max 40)")
    "row <n>: value '…' too long (max <n>)"
    """
    if reason is None:
        return None
    kept: list[str] = []

    def keep(found: re.Match[str]) -> str:
        text = found.group(0)
        if text.isdigit() and not _before_its_phrase(found):
            return text  # a number before a word ("250 Units"): masked as any number
        kept.append(text)
        return chr(_PLACE + len(kept) - 1)

    places = {chr(_PLACE + i) for i in range(256)}
    text = "".join(c for c in reason if c not in places)
    text = _STATUSES.sub(keep, text) if len(_STATUSES.findall(text)) <= 256 else text
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    for i, status in enumerate(kept):
        text = text.replace(chr(_PLACE + i), status)
    text = _SPACES.sub(" ", text).strip()
    return text[: GROUP_LENGTH - 1] + "…" if len(text) > GROUP_LENGTH else text
