"""How `serve` and `worker` log: lines of text, or one JSON object per line
(``SYNCWRIGHT_LOG_FORMAT=json``), each carrying the run and sync it is about."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from syncwright.engine.runtime import current_run

#: Fields a log call may add (``extra=``) that the JSON lines carry.
_EXTRA = ("run_id", "sync_id", "status", "worker")

#: Libraries whose lines below WARNING carry what must not reach a log: httpx writes one INFO
#: line per request with its whole URL (a Slack webhook's path is its secret, an API's query
#: may hold a key), for every batch and notice; httpcore's debug lines follow each request.
_QUIET = ("httpx", "httpcore")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    found = dict(current_run.get() or {})
    for name in _EXTRA:
        if hasattr(record, name):
            found[name] = getattr(record, name)
    return found


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        about = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        return f"{text} [{about}]" if about else text


def configure_logging(form: str, level: str) -> None:
    """Send every log record (the engine's, the HTTP server's) to stderr in ``form``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if form == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("dbos", "uvicorn", "uvicorn.error", "uvicorn.access"):
        # Libraries that install their own handlers log through ours instead.
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    for name in _QUIET:
        # Whatever the level asked for: a failed request is told by the code that made it.
        logging.getLogger(name).setLevel(logging.WARNING)
