"""Waiting that keeps bursts cheap: a minimum interval between repeated queries, and a bounded
wait while callbacks are arriving.

Under load every finished turn or delivery would start the next query at once, one query per
message; spaced `interval` apart, one query takes everything that came meanwhile. And while a
burst of callbacks is arriving, background work (turns, claims) waits a little, so the answers
the platform times go first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


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
