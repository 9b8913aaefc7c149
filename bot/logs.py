"""Logging: one line per event with context (flow, application, user); never message bodies."""

from __future__ import annotations

import logging


def configure(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # tortoise logs every SQL statement with its values at DEBUG; keep user data out of INFO logs
    logging.getLogger("tortoise").setLevel(max(logging.INFO, logging.getLogger().level))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
