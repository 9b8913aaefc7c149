"""Waiting that keeps bursts cheap and outages survivable: a minimum interval between repeated
queries, a bounded wait while callbacks are arriving, and an idempotent storage call tried
again while the database cannot be reached.

Under load every finished turn or delivery would start the next query at once, one query per
message; spaced `interval` apart, one query takes everything that came meanwhile. And while a
burst of callbacks is arriving, background work (turns, claims) waits a little, so the answers
the platform times go first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from storage.errors import DATABASE_UNAVAILABLE

log = logging.getLogger("campusbot.retry")

T = TypeVar("T")
#: pauses before the next try of a storage call while the database cannot be reached
DATABASE_PAUSES = (0.1, 0.3, 1.0, 2.0)
#: pauses before reading a tapped card again (within a callback's 3 s, before it is stored)
CARD_READ_PAUSES = (0.1, 0.2, 0.5, 1.0, 1.0)


class Interval:
    """`await interval.pace()` returns at least `seconds` after the previous call returned."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last = float("-inf")

    async def pace(self) -> None:
        loop = asyncio.get_running_loop()
        if (wait := self._last + self.seconds - loop.time()) > 0:
            await asyncio.sleep(wait)
        self._last = loop.time()


async def wait_while(busy: Callable[[], bool] | None, longest: float) -> None:
    """Wait while `busy()` holds, `longest` seconds at most. Polled: "events are arriving"
    includes "one arrived a moment ago", which no event signals."""
    if busy is None:
        return
    loop = asyncio.get_running_loop()
    until = loop.time() + longest
    while busy() and loop.time() < until:  # noqa: ASYNC110
        await asyncio.sleep(0.001)


async def patiently(query: Callable[..., Awaitable[T]], *args: Any,
                    pauses: tuple[float, ...] = DATABASE_PAUSES,
                    retry_on: tuple[type[BaseException], ...] = DATABASE_UNAVAILABLE,
                    **kwargs: Any) -> T:
    """Run an idempotent storage call, again after each of `pauses` while it fails with
    `retry_on` (by default: while the database is unreachable)."""
    for pause in (*pauses, None):
        try:
            return await query(*args, **kwargs)
        except retry_on as exc:
            if pause is None:
                raise
            log.warning("%s failed (%s); trying again in %.2f s",
                        getattr(query, "__qualname__", "a storage call"), type(exc).__name__,
                        pause)
            await asyncio.sleep(pause)
    raise AssertionError("unreachable")
