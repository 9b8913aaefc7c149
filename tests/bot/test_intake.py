"""Turns started after the answer: a user's messages are answered in the order they came, even
when several turns wait side by side while a burst of events is answered."""

from __future__ import annotations

from bot.intake import TurnQueue


async def test_turns_deferred_side_by_side_start_in_arrival_order() -> None:
    # the first turn is told "callbacks are arriving" and waits; the second is told "quiet"
    answers = iter([True, False])
    tasks = TurnQueue(limit=4, defer_while=lambda: next(answers, False), max_defer=0.05)
    started: list[str] = []

    async def turn(name: str) -> None:
        started.append(name)
    tasks.spawn(lambda: turn("我要请假"), "first")
    tasks.spawn(lambda: turn("病假"), "second")
    await tasks.idle()
    assert started == ["我要请假", "病假"]
