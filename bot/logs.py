"""Logging: one line per event with context (flow, application, user); never message bodies.

`[log] format = "text"` (default) writes readable lines; `"json"` one JSON object per line for
a log collector (journald → Loki, Elasticsearch): time (UTC, ISO 8601), level, logger, message,
and the traceback as `exception` when there is one.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str, style: str = "text") -> None:
    """At a process's start (a no-op where logging is already set up, e.g. under pytest)."""
    handler = logging.StreamHandler()
    if style == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # tortoise logs every SQL statement with its values at DEBUG; keep user data out of INFO logs
    logging.getLogger("tortoise").setLevel(max(logging.INFO, logging.getLogger().level))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
