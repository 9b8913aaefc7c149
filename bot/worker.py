"""`campusbot worker`: a process that runs turns, the outbox and the periodic jobs, no HTTP.

Run one or more beside servers configured with `[server] run_turns = false`, on the same
database and config. The servers then spend their CPU only on answering callbacks, which keeps
the platform's 5-second deadline safe under bursts, and turns scale by adding workers. Every
worker may stop at any moment (even kill -9): the events are stored, and whatever a worker had
not finished runs again in another one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.background import background_work
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.services import Services, build_services, load_directory
from bot.turn_runner import TurnRunner
from storage.db import close_db, init_db

log = logging.getLogger("campusbot.worker")

DRAIN_SECONDS = 10.0


class Worker:
    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        await init_db(self.settings.database.url, setup=lambda: load_directory(self.settings))
        services: Services | None = None
        try:
            services = await build_services(self.settings, self.clock)
            runner = TurnRunner(services.dispatcher,
                                slots=self.settings.database.parallel_turns(),
                                batch=self.settings.database.turn_batch())
            services.jobs.runner_takes_waiting = True
            async with background_work(services.sender, services.jobs, self.settings.zone):
                turns = asyncio.create_task(runner.run(), name="turn-runner")
                log.info("worker started: %d turn(s) at a time", runner.slots)
                if self.settings.database.url.startswith("sqlite"):
                    log.warning("worker on SQLite: the server and the workers write one file and "
                                "slow each other down; use PostgreSQL with workers")
                await self.stopping.wait()
                turns.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await turns
                await runner.drain(DRAIN_SECONDS)
        finally:
            if services is not None:
                await services.close_channels()
            await close_db()
            log.info("worker stopped")

    def stop(self) -> None:
        self.stopping.set()


def run_worker(settings: Settings) -> None:
    async def main() -> None:
        worker = Worker(settings)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, worker.stop)
        await worker.run()
    asyncio.run(main())
