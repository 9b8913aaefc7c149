"""The channel-neutral path of an inbound event: store it, acknowledge it, then run its turn.

Every channel the platform pushes events to (WeCom callbacks, DingTalk next) does the same:

    accepted = await dispatcher.accept(incoming)   # stored (group commit); None = duplicate
    ... answer the platform (200) ...
    dispatcher.intake.schedule(accepted)           # its turn runs afterwards, in the background

**Group commit.** Storing the event is the one piece of a callback that must wait for the
database, and a commit costs a disk flush (SQLite) or a round trip and a flush (PostgreSQL) —
about 0.7–0.9 ms measured, against 0.06 ms for everything else a WeCom callback does. One
INSERT per callback capped a server at ~1,000 callbacks a second on one connection and let 100
concurrent senders queue for 200 ms (docs/benchmarks.md). So every event that arrives while an
INSERT is in flight goes into the next one, and the database's unique key decides what is a
duplicate (`inbound.insert_many`), also across replicas.

**Turns after the answer.** Answering the platform in time is what keeps the app enabled, a
reply a moment later is fine. Turns run `turn_slots` at a time, and before each up to
`max_defer` s of waiting while events are arriving, so a burst is answered first and its turns
run right after. The events are stored: a turn cut short (shutdown, kill -9) runs again later.
With `[server] run_turns = false` nothing is scheduled here: `campusbot worker` processes run
the turns (bot/turn_runner.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.clock import Clock
from bot.pacing import patiently, wait_while
from flows.incoming import Incoming
from storage import inbound
from storage.models import InboundEvent

log = logging.getLogger("campusbot.intake")

MAX_BATCH = 100
#: pauses before storing a batch of events again while the database cannot be reached (about
#: 10 s in all: a restart; a longer outage answers 503 and leaves it to the platform's retries)
STORE_PAUSES = (0.1, 0.2, 0.5, 1.0, 1.0, 2.0, 2.0, 3.0)
#: an event arriving within this many seconds counts as "events are arriving"
RECENT = 0.003
MAX_DEFER = 0.05
#: turns of different users run in one transaction at most (bot/dispatcher.process_batch; the
#: database settings choose, `DatabaseSettings.turn_batch`); on SQLite the batch holds the one
#: connection, so callbacks wait for it that long
MAX_TURN_BATCH = 10


@dataclass(frozen=True, slots=True)
class Accepted:
    """A stored inbound event, ready for its turn."""

    event_id: int
    incoming: Incoming

    @classmethod
    def of(cls, row: InboundEvent) -> Accepted:
        """From a stored row (the workers and the recovery job run those)."""
        return cls(row.id, Incoming.from_payload(row.payload))


@dataclass
class _Pending:
    incoming: Incoming
    future: asyncio.Future[Accepted | None]


class GroupCommit:
    """Stores events with one INSERT for every event that arrived while the previous INSERT was
    in flight. `on_late` gets a row stored after its caller gave up waiting (and answered 503),
    so that its turn still runs."""

    def __init__(self, clock: Clock, *, on_late: Callable[[Accepted], None],
                 max_batch: int = MAX_BATCH) -> None:
        self.clock = clock
        self.on_late = on_late
        self.max_batch = max_batch
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._last_arrival = float("-inf")

    def busy(self) -> bool:
        """Events are arriving or being stored right now."""
        flushing = self._flusher is not None and not self._flusher.done()
        return flushing or bool(self._queue) or (
            asyncio.get_running_loop().time() - self._last_arrival < RECENT)

    async def store(self, incoming: Incoming) -> Accepted | None:
        """The stored event, or None when this (channel, dedupe key) was stored before."""
        loop = asyncio.get_running_loop()
        self._last_arrival = loop.time()
        future: asyncio.Future[Accepted | None] = loop.create_future()
        self._queue.append(_Pending(incoming, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="intake")
        return await future

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            try:
                # tried again while the database cannot be reached (a restart takes a few
                # seconds): a platform that gets 503s retries at once and gives up after three,
                # so failing fast lost messages a restart of 2.6 s should not cost
                # (benchmarks/load.py, pg-restart). Callers still answer by their deadline; a
                # row stored after it starts its turn all the same (`on_late`), and the
                # platform's repeat is a duplicate.
                stored = await patiently(self._insert, batch, pauses=STORE_PAUSES)
            except Exception as exc:  # every caller answers 503 and the platform delivers again
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                continue
            for pending, event in zip(batch, stored, strict=True):
                if not pending.future.done():
                    pending.future.set_result(event)
                elif event is not None:
                    self.on_late(event)

    async def _insert(self, batch: list[_Pending]) -> list[Accepted | None]:
        first: dict[tuple[str, str], int] = {}
        for index, pending in enumerate(batch):
            first.setdefault(_key(pending.incoming), index)
        ids = await inbound.insert_many(
            [inbound.NewEvent(batch[index].incoming.channel, batch[index].incoming.dedupe_key,
                              batch[index].incoming.user_id, batch[index].incoming.payload())
             for index in first.values()], self.clock.now())
        accepted: list[Accepted | None] = []
        for index, pending in enumerate(batch):
            key = _key(pending.incoming)
            row_id = ids.get(key) if first[key] == index else None
            accepted.append(None if row_id is None else Accepted(row_id, pending.incoming))
        return accepted


def _key(incoming: Incoming) -> tuple[str, str]:
    return incoming.channel, inbound.stored_key(incoming.dedupe_key)


class TurnQueue:
    """Background turns: tracked, `limit` at a time, drained at shutdown.

    An untracked `create_task` may be garbage-collected or silently cancelled at exit; here every
    task is kept until done, its exception is logged, and shutdown waits for the running ones.
    Before each turn, up to `max_defer` s of waiting while `defer_while()` says events are
    arriving."""

    def __init__(self, *, limit: int = 1, defer_while: Callable[[], bool] | None = None,
                 max_defer: float = MAX_DEFER) -> None:
        self._slots = asyncio.Semaphore(limit)
        # Turns leave the wait one by one in the order they came, so each reaches the
        # dispatcher's per-user lock in arrival order (the database keeps the order anyway;
        # this only saves a turn from finding an earlier message still waiting).
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
                if self._defer_while is not None and self._defer_while():
                    # still arriving after the longest wait: during a burst turns run one at a
                    # time, however many slots — parallel turns overlap their database round
                    # trips, but took the CPU the callbacks' answers need (docs/benchmarks.md)
                    await self._work(work, name)
                    return
            await self._work(work, name)

    @staticmethod
    async def _work(work: Callable[[], Awaitable[object]], name: str) -> None:
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:  # the event stays stored; the recovery job retries it
            log.exception("background %s failed", name)

    async def _defer(self) -> None:
        await wait_while(self._defer_while, self._max_defer)

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
        log.info("waiting for %d background turns to finish", len(self._tasks))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle(), grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class Intake:
    """Group commit plus the background turns, one per process, shared by every channel."""

    def __init__(self, clock: Clock, process: Callable[[Accepted], Awaitable[object]], *,
                 run_turns: bool = True, turn_slots: int = 1,
                 process_batch: Callable[[list[Accepted], Callable[[str], bool]],
                                         Awaitable[object]] | None = None,
                 max_batch: int = MAX_TURN_BATCH) -> None:
        self.process = process
        self.process_batch = process_batch
        self.max_batch = max_batch
        #: false: stored events are left to `campusbot worker` processes
        self.run_turns = run_turns
        self.commit = GroupCommit(clock, on_late=self.schedule)
        self.turns = TurnQueue(limit=turn_slots, defer_while=self.commit.busy)
        #: events whose turn has not started, in arrival order (with `process_batch`)
        self._ready: list[Accepted] = []
        #: how many of `_ready` each user has
        self._ready_of: Counter[str] = Counter()
        #: users with an event in a batch that is running (how many such batches)
        self._running_of: Counter[str] = Counter()

    async def store(self, incoming: Incoming) -> Accepted | None:
        return await self.commit.store(incoming)

    def schedule(self, accepted: Accepted) -> None:
        """Run the event's turn in the background (unless workers run the turns)."""
        if not self.run_turns:
            return
        # a turn that finds its event already run (by the recovery job during a long queue, or
        # by a turn of an earlier message of the same user) just stops
        if self.process_batch is None:
            self.turns.spawn(lambda: self.process(accepted), f"turn-{accepted.event_id}")
            return
        # one task per event as before; the task that gets a slot first takes every event
        # waiting by then (up to max_batch) into one transaction, and the later tasks find
        # theirs taken
        self._ready.append(accepted)
        self._ready_of[accepted.incoming.user_id] += 1
        self.turns.spawn(self._run_ready, f"turn-{accepted.event_id}")

    def queued(self, user_id: str) -> bool:
        """Whether a turn of the user's waits in this process's queue (it will run the user's
        oldest waiting event when it starts)."""
        return self._ready_of[user_id] > 0

    def _take_batch(self) -> list[Accepted]:
        """The oldest ready events of different users, up to max_batch, leaving out users with
        a batch running: a user's later event stays queued for a later batch. (A batch runs
        each user once; a second event of theirs, in it or in a batch beside it, would run
        alone in a transaction of its own, after the first.)"""
        window = self._ready[:4 * self.max_batch]
        batch: list[Accepted] = []
        users: set[str] = set()
        left: list[Accepted] = []
        for accepted in window:
            user = accepted.incoming.user_id
            if len(batch) < self.max_batch and user not in users and not self._running_of[user]:
                users.add(user)
                batch.append(accepted)
            else:
                left.append(accepted)
        self._ready[:len(window)] = left
        for user in users:
            self._ready_of[user] -= 1
            if not self._ready_of[user]:
                del self._ready_of[user]
            self._running_of[user] += 1
        return batch

    async def _run_ready(self) -> None:
        batch = self._take_batch()
        if not batch:
            return
        assert self.process_batch is not None
        try:
            await self.process_batch(batch, self.queued)
        finally:
            for accepted in batch:
                self._running_of[accepted.incoming.user_id] -= 1
                if not self._running_of[accepted.incoming.user_id]:
                    del self._running_of[accepted.incoming.user_id]
            # what this batch's users left queued may have found no task free to take it
            current = asyncio.current_task()
            if self._ready and not (current is not None and current.cancelling()):
                self.turns.spawn(self._run_ready, "turns-left")

    async def idle(self) -> None:
        await self.turns.idle()

    async def drain(self, grace: float) -> None:
        await self.turns.drain(grace)
