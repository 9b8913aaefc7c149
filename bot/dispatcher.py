"""One turn = record the event, lock the user's conversation, load, trigger, save, then send.

    accept(incoming)  store the event (group commit, bot/intake.py; a duplicate is dropped
                      here): an `Accepted`, or None
    process(accepted) run the turn in one transaction, retried on a concurrent update:
                      lock conversation → handlers → save conversation → outbox rows →
                      mark the event processed; then wake the outbox sender

Because the event row, the state change and the messages commit together, a crash at any point
either leaves the event unprocessed (the recovery job replays it) or fully done.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from tortoise.exceptions import OperationalError, TransactionManagementError
from tortoise.transactions import in_transaction

from bot.clock import Clock
from bot.intake import Accepted, Intake
from flows.incoming import Incoming
from flows.turn import Turn
from handlers import replies
from handlers.router import Handlers
from storage import inbound, outbox
from storage.conversations import last_channel_of, lock_conversation, save_conversation
from storage.directory import Directory, PersonInfo
from storage.errors import ConcurrentUpdate

log = logging.getLogger("campusbot.dispatch")

MAX_ATTEMPTS = 6
#: From this attempt on, a turn takes SQLite's write lock before reading. On SQLite a turn
#: that read before another process wrote fails at once ("database is locked"); under a steady
#: stream of writes (a callback server storing events) it can lose every time: two turns did in
#: ~12,000 of one worker benchmark run, none in 24,000 with this. Taking the lock first makes the
#: other process wait, in SQLite's busy-handler sleeps, for the whole turn — measured to slow
#: callbacks 2x when every turn did it — so only retries do. SQLite gives no fairness against a
#: writer that never pauses; several processes belong on PostgreSQL (docs/deployment.md).
EXCLUSIVE_FROM_ATTEMPT = 3


class AlreadyProcessed(Exception):
    """Another worker finished this event first; this turn's changes are rolled back."""


@dataclass
class TurnResult:
    turn_id: str
    processed: bool


UserLookup = Callable[[str], Awaitable[PersonInfo | None]]


class Dispatcher:
    def __init__(self, handlers: Handlers, directory: Directory, clock: Clock, timezone: ZoneInfo,
                 default_channel: Callable[[], str], wake_sender: Callable[[], None],
                 user_lookups: dict[str, UserLookup] | None = None, *,
                 run_turns: bool = True, turn_slots: int = 1) -> None:
        self.handlers = handlers
        #: per channel: fetch a user the directory does not know yet (e.g. WeCom user/get) and
        #: store them, so a new colleague can use the bot before the next directory sync
        self.user_lookups = user_lookups or {}
        self.directory = directory
        self.clock = clock
        self.timezone = timezone
        self.default_channel = default_channel
        self.wake_sender = wake_sender
        self._locks: dict[str, asyncio.Lock] = {}
        #: storing events (group commit) and running their turns after the answer, for every
        #: channel (bot/intake.py)
        self.intake = Intake(clock, self.process, run_turns=run_turns, turn_slots=turn_slots)

    async def accept(self, incoming: Incoming) -> Accepted | None:
        """Store the event before acknowledging it; None for a duplicate delivery."""
        if not incoming.dedupe_key:
            incoming = replace(incoming, dedupe_key=f"{incoming.user_id}:{time.time_ns()}")
        return await self.intake.store(incoming)

    async def receive(self, incoming: Incoming) -> TurnResult | None:
        """accept + process, for channels that answer synchronously (the simulator)."""
        accepted = await self.accept(incoming)
        if accepted is None:
            log.info("duplicate dropped: %s user=%s", incoming.describe(), incoming.user_id)
            return None
        return await self.process(accepted)

    async def process(self, accepted: Accepted) -> TurnResult:
        incoming = accepted.incoming
        # in-process lock: turns of one user in this process queue instead of conflicting
        lock = self._locks.setdefault(incoming.user_id, asyncio.Lock())
        try:
            async with lock:
                return await self._process_with_retries(accepted.event_id, incoming)
        finally:
            if not lock.locked() and not lock._waiters:  # prune idle locks
                self._locks.pop(incoming.user_id, None)

    async def _process_with_retries(self, event_id: int, incoming: Incoming) -> TurnResult:
        started = time.perf_counter()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                turn = await self._run_turn(event_id, incoming,
                                             exclusive=attempt >= EXCLUSIVE_FROM_ATTEMPT)
            except AlreadyProcessed:
                return TurnResult(turn_id="", processed=False)
            except (ConcurrentUpdate, OperationalError, TransactionManagementError) as exc:
                if attempt == MAX_ATTEMPTS:
                    log.error("turn failed after %d attempts: %s user=%s: %s", attempt,
                              incoming.describe(), incoming.user_id, exc)
                    raise
                log.info("turn retry %d (%s) user=%s", attempt, type(exc).__name__,
                         incoming.user_id)
                await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)
                continue
            log.info("turn done: %s user=%s replies=%d in %.1f ms", incoming.describe(),
                     incoming.user_id, len(turn.outgoing),
                     (time.perf_counter() - started) * 1000)
            self.wake_sender()
            return TurnResult(turn_id=turn.id, processed=True)
        raise AssertionError("unreachable")

    async def _run_turn(self, event_id: int, incoming: Incoming, *, exclusive: bool) -> Turn:
        now = self.clock.now()
        person = await self.directory.person(incoming.user_id)
        lookup = self.user_lookups.get(incoming.channel)
        if person is None and lookup is not None:
            person = await lookup(incoming.user_id)
        async with in_transaction():
            turn = Turn(user=person or PersonInfo(incoming.user_id, incoming.user_id, None),
                        channel=incoming.channel, now=now, timezone=self.timezone)
            if person is None:
                turn.reply(replies.NOT_IN_DIRECTORY)
                log.info("user not in directory: %s", incoming.user_id)
            else:
                conversation = await lock_conversation(person.id, now, exclusive=exclusive)
                if not await inbound.is_pending(event_id):
                    raise AlreadyProcessed  # another worker ran it while this one waited
                conversation.last_channel = incoming.channel
                await self.handlers.handle(turn, conversation, incoming)
                await save_conversation(conversation, now)
            await self.write_outbox(turn)
            if not await inbound.mark_processed(event_id, now):
                raise AlreadyProcessed
        return turn

    async def write_outbox(self, turn: Turn) -> None:
        """Queue the turn's messages: replies on the channel the user wrote from, pushes on the
        channel each recipient last used (or the primary channel)."""
        channels: dict[str, str] = {turn.user.id: turn.channel}
        for item in turn.outgoing:
            if item.to not in channels:
                channels[item.to] = await last_channel_of(item.to) or self.default_channel()
            await outbox.enqueue(channel=channels[item.to], user_id=item.to,
                                 payload=item.message.payload(), now=turn.now, turn_id=turn.id,
                                 dedupe_key=item.dedupe_key)

    async def run_system_turn(self, action: Callable[[Turn], object]) -> None:
        """A turn not caused by a user (expiry, reminders): same transaction and outbox rules."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            now = self.clock.now()
            turn = Turn(user=PersonInfo("system", "系统", None), channel="system", now=now,
                        timezone=self.timezone)
            try:
                async with in_transaction():
                    result = action(turn)
                    if asyncio.iscoroutine(result):
                        await result
                    await self.write_outbox(turn)
            except (ConcurrentUpdate, OperationalError) as exc:
                if attempt == MAX_ATTEMPTS:
                    raise
                log.info("system turn retry %d: %s", attempt, exc)
                await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)
                continue
            if turn.outgoing:
                self.wake_sender()
            return
