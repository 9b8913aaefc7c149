"""Turns the callback started after answering: tracked, bounded, and drained at shutdown.

An untracked `create_task` may be garbage-collected or silently cancelled at exit; here every
task is kept until done, its exception is logged, and shutdown waits for the running ones. A
turn cut short still has its event stored, so the recovery job replays it after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("campusbot.wecom")


class TaskSet:
    """`limit` turns at a time; before each, up to `max_defer` s of waiting while `defer_while()`
    says callbacks are arriving. A burst is answered first and its turns run right after:
    answering WeCom in time is what keeps the app enabled; a reply a moment later is fine.
    The events are stored, so waiting turns are not at risk."""

    def __init__(self, *, limit: int = 1, defer_while: Callable[[], bool] | None = None,
                 max_defer: float = 0.05) -> None:
        self._slots = asyncio.Semaphore(limit)
        # Turns leave the wait one by one in the order they came, so each reaches the
        # dispatcher's per-user lock in arrival order: two messages of one user, deferred side
        # by side, could otherwise wake in either order and be answered out of order.
        self._in_order = asyncio.Lock()
        self._defer_while = defer_while
        self._max_defer = max_defer
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Callable[[], Awaitable[object]], name: str) -> None:
        task = asyncio.create_task(self._run(work, name), name=name)
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)

    async def _run(self, work: Callable[[], Awaitable[object]], name: str) -> None:
        async with self._slots:
            async with self._in_order:
                await self._defer()
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:  # the event stays stored; the recovery job retries it
                log.exception("background %s failed", name)

    async def _defer(self) -> None:
        if self._defer_while is None:
            return
        loop = asyncio.get_running_loop()
        until = loop.time() + self._max_defer
        # polled: "arriving" includes "arrived a moment ago", which no event signals
        while self._defer_while() and loop.time() < until:  # noqa: ASYNC110
            await asyncio.sleep(0.001)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    async def idle(self) -> None:
        """Wait until every spawned task (and any it spawned) has finished."""
        while self._tasks:
            await self._idle.wait()

    async def drain(self, grace: float) -> None:
        """At shutdown: let running turns finish for up to `grace` s, then cancel the rest."""
        if not self._tasks:
            return
        log.info("waiting for %d callback turns to finish", len(self._tasks))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle(), grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
