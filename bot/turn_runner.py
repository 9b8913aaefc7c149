"""Runs the turns of stored inbound events in a `campusbot worker` process.

With `[server] run_turns = false` a server only verifies, stores and acknowledges callbacks;
workers pick the stored events up from the database and run their turns. Each poll takes every
user's oldest waiting event (`inbound.next_per_user`) and runs them `slots` at a time, each slot
up to `batch` turns of different users in one transaction (`Dispatcher.process_batch`); the turn
itself runs the user's events oldest first under the user's conversation lock (bot/dispatcher.py),
so a user's messages stay in order across any number of workers. An event whose turn failed
waits until its retry is due (back-off, then given up), and the user's later events behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.dispatcher import Dispatcher
from bot.intake import Accepted
from bot.pacing import Interval
from storage import inbound

log = logging.getLogger("campusbot.worker")

POLL_SECONDS = 0.05
#: polls are at least this far apart: every turn that ends frees a slot and would poll at once,
#: one query per turn; paced, one poll starts the turns of everyone who wrote meanwhile
POLL_INTERVAL = 0.02


class TurnRunner:
    def __init__(self, dispatcher: Dispatcher, *, slots: int, batch: int = 1,
                 poll_seconds: float = POLL_SECONDS) -> None:
        self.dispatcher = dispatcher
        self.slots = slots
        #: turns of different users run in one transaction at most (`Dispatcher.process_batch`)
        self.batch = max(1, batch)
        self.poll_seconds = poll_seconds
        self._running: dict[int, asyncio.Task[None]] = {}
        self._users: set[str] = set()
        self._finished = asyncio.Event()
        self._polls = Interval(POLL_INTERVAL)

    async def run(self) -> None:
        """Until cancelled: start every waiting turn a free slot allows, then wait."""
        while True:
            try:
                started = await self.start_waiting()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: try again next poll
                log.exception("turn worker poll failed")
                started = 0
            if started == 0 or len(self._running) >= self.slots:
                self._finished.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._finished.wait(), self.poll_seconds)

    async def start_waiting(self) -> int:
        free = self.slots - len(self._running)
        if free <= 0:
            return 0
        await self._polls.pace()
        free = self.slots - len(self._running)
        rows = await inbound.next_per_user(free * self.batch, skip_users=self._users,
                                           now=self.dispatcher.clock.now())
        for start in range(0, len(rows), self.batch):
            self._start([Accepted.of(row) for row in rows[start:start + self.batch]])
        return len(rows)

    async def run_all(self) -> int:
        """Run every waiting turn, including those the turns themselves cause; for tests and
        for draining. Returns how many turns ran."""
        ran = 0
        while started := await self.start_waiting():
            ran += started
            await self.idle()
        return ran

    def _start(self, batch: list[Accepted]) -> None:
        """One slot for a batch of different users' events (their oldest waiting ones)."""
        users = {accepted.incoming.user_id for accepted in batch}
        self._users.update(users)
        first = batch[0].event_id
        task = asyncio.create_task(self._turns(batch), name=f"turn-{first}")
        self._running[first] = task

        def done(_: asyncio.Task[None]) -> None:
            self._running.pop(first, None)
            self._users.difference_update(users)
            self._finished.set()
        task.add_done_callback(done)

    async def _turns(self, batch: list[Accepted]) -> None:
        try:
            # a user's later events: the next poll takes them, batched with others'
            await self.dispatcher.process_batch(batch, queued=lambda _user: True)
        except asyncio.CancelledError:
            raise
        except Exception:  # the database is away: the events wait and a later poll takes them
            log.exception("turns of inbound events %s could not run",
                          [accepted.event_id for accepted in batch])

    async def idle(self) -> None:
        while self._running:
            await asyncio.wait(list(self._running.values()))

    async def drain(self, grace: float) -> None:
        """At shutdown: let running turns finish for up to `grace` s, then cancel the rest (their
        events stay stored and run again later)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle(), grace)
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
