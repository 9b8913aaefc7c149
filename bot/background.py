"""What runs beside the turns in every process that owns them: the outbox sender, the periodic
jobs, and at start a replay of events a previous process left unfinished."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

from bot.scheduler import Jobs, build_scheduler
from bot.sender import OutboxSender


def settle_memory() -> None:
    """Once started: the catalog, the machines and the search index live as long as the
    process. Out of the collector's sight, full collections stop walking them (p99 of the WeCom
    callback under load 115-122 ms -> 60 ms, docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()


@contextlib.asynccontextmanager
async def background_work(sender: OutboxSender, jobs: Jobs,
                          timezone: ZoneInfo) -> AsyncIterator[None]:
    settle_memory()
    sender_task = asyncio.create_task(sender.run(), name="outbox-sender")
    scheduler = build_scheduler(jobs, timezone)
    scheduler.start()
    # events a previous process stored but never finished are replayed at once
    replay = asyncio.create_task(jobs.replay_unprocessed(), name="replay-inbound")
    # the directory check's summary at start, and stages left waiting by a previous process
    directory = asyncio.create_task(jobs.watch_directory(), name="watch-directory")
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)
        for task in (sender_task, replay, directory):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
