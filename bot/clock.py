"""Time as the application sees it; tests move a FixedClock instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        # always UTC, like SystemClock: Tortoise compares filter values without converting zones
        return self._now.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._now += delta
