"""Flowchart pictures on demand, rendered off the event loop and cached per flow content (an edit
without a new `version` number draws a new picture)."""

from __future__ import annotations

import asyncio
import logging

from flows.definition import FlowDefinition
from flows.render import RenderUnavailable, render_bytes

log = logging.getLogger("campusbot.flowcharts")


class Flowcharts:
    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, str], bytes] = {}

    async def image(self, definition: FlowDefinition, fmt: str) -> bytes | None:
        key = (definition.id, definition.digest or f"v{definition.version}", fmt)
        if key not in self._cache:
            try:
                self._cache[key] = await asyncio.to_thread(render_bytes, definition, fmt)
            except RenderUnavailable as exc:
                log.warning("flowchart unavailable: %s", exc)
                return None
        return self._cache[key]
