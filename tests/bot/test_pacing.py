"""Pacing of background work: queries spaced apart, and a wait during a burst that never
becomes a stall."""

from __future__ import annotations

import asyncio

from bot.pacing import Interval, wait_while


async def test_an_interval_spaces_calls_and_lets_a_late_one_through_at_once() -> None:
    loop = asyncio.get_running_loop()
    interval = Interval(0.05)
    await interval.pace()
    started = loop.time()
    await interval.pace()
    assert loop.time() - started >= 0.045       # the second waited for the interval
    await asyncio.sleep(0.06)
    started = loop.time()
    await interval.pace()
    assert loop.time() - started < 0.03         # the interval had passed: no wait


async def test_a_burst_delays_background_work_only_so_long() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await wait_while(lambda: True, 0.05)        # events never stop arriving
    assert 0.045 <= loop.time() - started < 1


async def test_the_wait_ends_when_the_burst_does() -> None:
    loop = asyncio.get_running_loop()
    ends = loop.time() + 0.02
    started = loop.time()
    await wait_while(lambda: loop.time() < ends, 5)
    assert loop.time() - started < 1
    await wait_while(None, 5)                   # nothing to wait for
