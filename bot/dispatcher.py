"""One turn = record the event, lock the user's conversation, load, trigger, save, then send.

    accept(incoming)  store the event (group commit, bot/intake.py; a duplicate is dropped
                      here): an `Accepted`, or None
    process(accepted) run the user's waiting events oldest first, each turn in one transaction,
                      retried on a concurrent update or a lost database connection:
                      lock conversation → take the user's oldest waiting event → handlers →
                      save conversation → outbox rows → mark the event processed; then wake
                      the outbox sender

**Order per user, enforced by the database.** A turn never runs the event it was started for
if an older event of the same user is still waiting: under the user's conversation lock it
takes the oldest waiting one (`inbound.head_of`), runs it, and goes on to the next. So however
the events reach a turn — the callback's background task, a worker, the recovery job, another
process after a kill -9 — a user's messages are handled in the order they were stored. A turn
that fails with an error holds the user's later events until its retry (back-off, five tries,
then it is given up and the user told); conflicts and a lost connection retry at once.

Because the event row, the state change and the messages commit together, a crash at any point
either leaves the event unprocessed (it runs again, still first) or fully done.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot import metrics
from bot.channels import SIMULATOR
from bot.clock import Clock
from bot.intake import Accepted, Intake
from bot.pacing import patiently
from bot.people import People
from flows.incoming import Incoming
from flows.turn import Turn
from handlers import replies
from handlers.router import Handlers
from storage import inbound, outbox
from storage.conversations import save_conversations
from storage.directory import PersonInfo
from storage.errors import DATABASE_UNAVAILABLE, RETRY_TURN
from storage.models import Conversation
from storage.transactions import transaction
from storage.turns import TurnState, open_turn, open_turns

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


#: pauses before the next try while the database cannot be reached (PostgreSQL restarting):
#: about 8 s in all, then the event is left to the recovery job
DATABASE_PAUSES = (0.2, 0.5, 1.0, 2.0, 4.0)
#: after a turn failed with an error (not a conflict): when to try that event again; the
#: user's later events wait meanwhile. After the last, the event is given up and the user told.
FAILED_TURN_RETRY_SECONDS = (2, 10, 30, 120, 600)
TURN_GIVEN_UP = "抱歉，系统没能处理您之前发的一条消息，请稍后再发一次。"


class NothingToRun(Exception):
    """The user has no event waiting that may run now (none left, or the oldest is held)."""


class TurnError(Exception):
    """The turn of `event_id` failed with an error that running it again at once will not fix."""

    def __init__(self, event_id: int) -> None:
        super().__init__(f"turn of inbound event {event_id} failed")
        self.event_id = event_id


@dataclass(frozen=True)
class Failed:
    """A turn failed and was recorded on its event; `given_up`: for good, so the user's later
    events may go on."""

    given_up: bool


@dataclass(frozen=True)
class Ran:
    """A turn that ran (inside a transaction not yet committed)."""

    event_id: int
    turn: Turn
    #: another event of the user waited behind this one when the turn read
    more: bool
    incoming: Incoming


@dataclass
class TurnResult:
    #: the turn of the event `process` was called for ("" when it did not run here)
    turn_id: str
    processed: bool
    #: the user's oldest waiting event failed: it (and the rest) wait for its retry
    failed: bool = False
    #: turns run, including the user's older events run first
    turns: int = 0


@dataclass
class BatchWrites:
    """What turns write last — a turn alone, or a batch of turns — gathered and written once
    at the end: their conversations in one UPDATE, their outbox rows (in turn order, so each
    user's stay in order) in one INSERT and their events marked done in one UPDATE, all with
    the COMMIT. A conversation changed or an event finished by another process meanwhile fails
    the whole batch (`ConcurrentUpdate`), which then runs turn by turn. Only a turn writes its
    conversation, and a batch holds each person once, so no turn of the batch reads what
    another's waits to write."""

    conversations: list[Conversation] = field(default_factory=list)
    messages: list[outbox.NewMessage] = field(default_factory=list)
    events: list[int] = field(default_factory=list)

    async def flush(self, now: datetime) -> None:
        """Held for the transaction's COMMIT (storage/held_writes.py), like every turn's."""
        await save_conversations(self.conversations, now)
        await outbox.enqueue_many(self.messages, now)
        await inbound.mark_processed(self.events, now)


class Dispatcher:
    def __init__(self, handlers: Handlers, people: People, clock: Clock, timezone: ZoneInfo,
                 wake_sender: Callable[[], None], *,
                 run_turns: bool = True, turn_slots: int = 1, turn_batch: int = 1) -> None:
        self.handlers = handlers
        #: who wrote (an account on a channel → the directory person) and where to reach whom
        self.people = people
        self.clock = clock
        self.timezone = timezone
        self.wake_sender = wake_sender
        self._locks: dict[str, asyncio.Lock] = {}
        #: storing events (group commit) and running their turns after the answer, for every
        #: channel (bot/intake.py)
        self.intake = Intake(clock, self.process, run_turns=run_turns, turn_slots=turn_slots,
                             process_batch=self.process_batch if turn_batch > 1 else None,
                             max_batch=turn_batch)

    async def accept(self, incoming: Incoming) -> Accepted | None:
        """Store the event before acknowledging it; None for a duplicate delivery."""
        if not incoming.dedupe_key:
            incoming = replace(incoming, dedupe_key=f"{incoming.user_id}:{time.time_ns()}")
        return await self.intake.store(incoming.storable())

    async def receive(self, incoming: Incoming) -> TurnResult | None:
        """accept + process, for channels that answer synchronously (the simulator)."""
        accepted = await self.accept(incoming)
        if accepted is None:
            log.info("duplicate dropped: %s user=%s", incoming.describe(), incoming.user_id)
            return None
        return await self.process(accepted)

    async def process(self, accepted: Accepted) -> TurnResult:
        """Run the turns of the user's waiting events, oldest first, until none is left (or the
        oldest is held after a failure): `accepted` among them, unless another process ran it
        already (then `processed` is False)."""
        incoming = accepted.incoming
        return await self._drain(incoming.user_id, incoming.channel, accepted)

    async def process_user(self, user_id: str, channel: str) -> TurnResult:
        """Run the user's waiting events in order (the workers and the recovery job)."""
        return await self._drain(user_id, channel, None)

    async def _drain(self, user_id: str, channel: str, accepted: Accepted | None) -> TurnResult:
        # in-process lock: turns of one user in this process queue instead of conflicting
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        try:
            async with lock:
                return await self._drain_locked(user_id, channel, accepted)
        finally:
            if not lock.locked() and not lock._waiters:  # prune idle locks
                self._locks.pop(user_id, None)

    async def _drain_locked(self, user_id: str, channel: str,
                            accepted: Accepted | None) -> TurnResult:
        result = TurnResult(turn_id="", processed=False)
        try:
            person = await self._person(user_id, channel)
        except RETRY_TURN:
            raise
        except Exception:  # e.g. the platform's user lookup failed: the event waits and retries
            log.exception("looking up user %s failed", user_id)
            head = await inbound.head_of(user_id)
            if head is not None:
                await self._record_failure(head.id, user_id)
            result.failed = True
            return result
        while True:
            ran = await self._next_turn_with_retries(user_id, person, accepted)
            if ran is None:
                return result
            if isinstance(ran, Failed):
                result.failed = True
                if ran.given_up:
                    continue
                return result
            event_id, turn, more = ran
            result.turns += 1
            if accepted is not None and event_id == accepted.event_id:
                result.turn_id, result.processed = turn.id, True
            if not more:
                # nothing else of the user waited when the turn read: an event stored since
                # has its own turn coming (the process that stored it, a worker's poll or the
                # recovery job), so asking again here would only cost a transaction
                return result

    async def _person(self, user_id: str, channel: str) -> PersonInfo | None:
        return await patiently(self.people.person_of, channel, user_id, pauses=DATABASE_PAUSES)

    async def _next_turn_with_retries(
            self, user_id: str, person: PersonInfo | None,
            accepted: Accepted | None) -> tuple[int, Turn, bool] | Failed | None:
        """The turn of the user's oldest waiting event: (its id, the turn, whether another event
        waited behind it), None when nothing may run now, or Failed (recorded on the event,
        which then waits for its retry)."""
        started = time.perf_counter()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await self._next_turn(user_id, person, accepted,
                                             exclusive=attempt >= EXCLUSIVE_FROM_ATTEMPT,
                                             started=started)
            except NothingToRun:
                return None
            except RETRY_TURN as exc:
                if attempt == MAX_ATTEMPTS:
                    log.error("turn failed after %d attempts: user=%s: %s", attempt, user_id,
                              exc)
                    raise
                log.info("turn retry %d (%s) user=%s", attempt, type(exc).__name__, user_id)
                pause = (DATABASE_PAUSES[attempt - 1] if isinstance(exc, DATABASE_UNAVAILABLE)
                         else random.uniform(0.01, 0.05) * attempt)
                await asyncio.sleep(pause)
            except TurnError as exc:
                log.error("turn of inbound event %s failed: user=%s", exc.event_id, user_id,
                          exc_info=exc.__cause__)
                return Failed(given_up=await self._record_failure(exc.event_id, user_id))
        raise AssertionError("unreachable")

    async def _next_turn(self, user_id: str, person: PersonInfo | None,
                         accepted: Accepted | None, *, exclusive: bool,
                         started: float) -> tuple[int, Turn, bool]:
        now = self.clock.now()
        writes = BatchWrites()
        async with transaction():
            ran = await self._turn(user_id, person, accepted, now, exclusive=exclusive,
                                   batch=writes)
            try:
                await writes.flush(now)
            except RETRY_TURN:
                raise
            except Exception as exc:   # e.g. a value the conversation cannot store
                raise TurnError(ran.event_id) from exc
        self._done(ran, user_id, started)
        self.wake_sender()
        return ran.event_id, ran.turn, ran.more

    async def _turn(self, user_id: str, person: PersonInfo | None, accepted: Accepted | None,
                    now: datetime, *, exclusive: bool, batch: BatchWrites,
                    state: TurnState | None = None) -> Ran:
        """The turn of the user's oldest waiting event, inside the caller's transaction; its
        conversation, outbox rows and event's mark wait in `batch` for the caller's flush;
        `state` is what the turn reads, when the batch read it already (`open_turns`)."""
        # the conversation lock serialises this user's turns across processes; under it,
        # the oldest waiting event is the one to run (never a later one before it). It is
        # the person's: their accounts on several channels share one conversation. One
        # statement reads it with the event and the active application (storage/turns.py).
        if state is None:
            state = await open_turn(person.id if person else user_id, user_id, now,
                                    exclusive=exclusive)
        conversation, head = state.conversation, state.head
        if head is None:
            raise NothingToRun
        if inbound.is_held(head, now):
            raise NothingToRun   # its turn failed; until its retry is due, later ones wait
        incoming = (accepted.incoming if accepted is not None
                    and head.id == accepted.event_id else Incoming.from_payload(head.payload))
        turn = Turn(user=person or PersonInfo(user_id, user_id, None),
                    channel=incoming.channel, now=now, timezone=self.timezone,
                    loaded_application=state.application)
        try:
            if person is None:
                turn.reply(replies.NOT_IN_DIRECTORY)
                log.info("user not in directory: %s", user_id)
            else:
                if incoming.channel != SIMULATOR:   # a tester is not the person
                    conversation.last_channel = incoming.channel
                await self.handlers.handle(turn, conversation, incoming)
            messages = await self.outbox_messages(turn)
        except RETRY_TURN:
            raise
        except Exception as exc:
            raise TurnError(head.id) from exc
        batch.conversations.append(conversation)
        batch.messages.extend(messages)
        batch.events.append(head.id)
        return Ran(head.id, turn, state.more, incoming)

    @staticmethod
    def _done(ran: Ran, user_id: str, started: float) -> None:
        took = time.perf_counter() - started
        metrics.TURNS.inc(result="done")
        metrics.TURN_SECONDS.observe(took)
        log.info("turn done: %s user=%s event=%d replies=%d in %.1f ms",
                 ran.incoming.describe(), user_id, ran.event_id, len(ran.turn.outgoing),
                 took * 1000)

    # ---- several users' turns in one transaction ------------------------------------------
    async def process_batch(self, batch: list[Accepted],
                            queued: Callable[[str], bool] = lambda _user: False) -> None:
        """Run the turns of several users' events in one transaction: one commit (on SQLite
        one disk flush) for all of them instead of one each.

        Only the common case goes this way — one event per user, the oldest waiting. Any
        failure in the batch (an error in a turn, a conflict, the database) rolls all of it
        back, and every event then runs on its own with the usual retries; so do events of
        users whose turn is running already and later events of a user in the batch. A user
        with more events waiting behind the one the batch ran has them run now, one by one, in
        order — unless `queued(user)` says a turn of theirs is queued anyway (the intake's
        next batch, a worker's next poll), which runs them batched with others."""
        if len(batch) < 2:
            for accepted in batch:
                await self.process(accepted)
            return
        together: list[tuple[Accepted, asyncio.Lock]] = []
        alone: list[Accepted] = []
        for accepted in batch:
            user = accepted.incoming.user_id
            lock = self._locks.setdefault(user, asyncio.Lock())
            if lock.locked() or any(a.incoming.user_id == user for a, _ in together):
                alone.append(accepted)
                continue
            await lock.acquire()   # free: taken at once
            together.append((accepted, lock))
        try:
            finished = await self._run_together([accepted for accepted, _ in together],
                                                queued)
        finally:
            for accepted, lock in together:
                lock.release()
                if not lock._waiters:
                    self._locks.pop(accepted.incoming.user_id, None)
        for accepted in [a for a, _ in together if a.event_id not in finished] + alone:
            try:
                await self.process(accepted)
            except Exception:  # as for a turn of its own: stored, the recovery job retries it
                log.exception("turn of inbound event %s failed", accepted.event_id)

    async def _run_together(self, batch: list[Accepted],
                            queued: Callable[[str], bool]) -> set[int]:
        """The events whose users need nothing more now (their turn ran and nothing waited
        behind it or a turn of theirs is queued, or there was nothing to run); empty when the
        batch was rolled back."""
        started = time.perf_counter()
        try:
            people = [await self.people.person_of(a.incoming.channel, a.incoming.user_id)
                      for a in batch]
        except Exception:  # e.g. a platform lookup failed: each on its own, with its handling
            return set()
        now = self.clock.now()
        results: list[tuple[Accepted, Ran | None]] = []
        writes = BatchWrites()
        # each person once (one conversation for all their accounts): a second account's
        # event runs on its own afterwards (it is not among the finished)
        keys: dict[str, tuple[Accepted, PersonInfo | None]] = {}
        for accepted, person in zip(batch, people, strict=True):
            keys.setdefault(person.id if person else accepted.incoming.user_id,
                            (accepted, person))
        try:
            async with transaction():
                states = await open_turns(
                    [(key, accepted.incoming.user_id) for key, (accepted, _) in keys.items()],
                    now)
                for accepted, person in keys.values():
                    user_id = accepted.incoming.user_id
                    try:
                        ran = await self._turn(user_id, person, accepted, now, exclusive=False,
                                               batch=writes, state=states.get(user_id))
                    except NothingToRun:
                        ran = None
                    results.append((accepted, ran))
                await writes.flush(now)
        except Exception as exc:
            log.info("batch of %d turns rolled back (%s); running them one by one",
                     len(keys), type(exc).__name__)
            return set()
        finished = set()
        for accepted, ran in results:
            if ran is None:
                finished.add(accepted.event_id)
                continue
            user_id = accepted.incoming.user_id
            self._done(ran, user_id, started)
            if ran.event_id == accepted.event_id and (not ran.more or queued(user_id)):
                finished.add(accepted.event_id)
        self.wake_sender()
        return finished

    async def _record_failure(self, event_id: int, user_id: str) -> bool:
        """Count a failed turn on the event; True when it is given up now."""
        now = self.clock.now()
        event = await inbound.get_event(event_id)
        if event is None:
            return False
        if event.attempts >= len(FAILED_TURN_RETRY_SECONDS):
            metrics.TURNS.inc(result="given_up")
            await inbound.record_failure(event_id, now, next_try_at=None)
            log.error("inbound event %s given up after %d failed turns: user=%s", event_id,
                      event.attempts + 1, user_id)

            def apologise(turn: Turn) -> None:
                turn.push(user_id, TURN_GIVEN_UP, dedupe_key=f"given-up:{event_id}")
            await self.run_system_turn(apologise)
            return True
        metrics.TURNS.inc(result="failed")
        delay = FAILED_TURN_RETRY_SECONDS[event.attempts]
        await inbound.record_failure(event_id, now, next_try_at=now + timedelta(seconds=delay))
        return False

    async def write_outbox(self, turn: Turn) -> None:
        await outbox.enqueue_many(await self.outbox_messages(turn), turn.now)

    async def outbox_messages(self, turn: Turn) -> list[outbox.NewMessage]:
        """The turn's messages as outbox rows: replies on the channel the user wrote from,
        pushes where each recipient is reached (`People.channel_for`)."""
        channels: dict[str, str] = {turn.user.id: turn.channel}
        messages = []
        for item in turn.outgoing:
            if item.to not in channels:
                channels[item.to] = await self.people.channel_for(item.to)
            messages.append(outbox.NewMessage(channels[item.to], item.to,
                                              item.message.payload(), item.dedupe_key,
                                              turn.id))
        return messages

    async def run_system_turn(self, action: Callable[[Turn], object]) -> None:
        """A turn not caused by a user (expiry, reminders): same transaction and outbox rules."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            now = self.clock.now()
            turn = Turn(user=PersonInfo("system", "系统", None), channel="system", now=now,
                        timezone=self.timezone)
            try:
                async with transaction():
                    result = action(turn)
                    if asyncio.iscoroutine(result):
                        await result
                    await self.write_outbox(turn)
            except RETRY_TURN as exc:
                if attempt == MAX_ATTEMPTS:
                    raise
                log.info("system turn retry %d: %s", attempt, exc)
                await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)
                continue
            if turn.outgoing:
                self.wake_sender()
            return
