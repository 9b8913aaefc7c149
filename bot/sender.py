"""Delivers the outbox: in order per user, rate-limited per user, retried for transient faults.

    claim   storage/outbox.claim_due: per user, the run of messages from the head of their
            queue that may go now (the order rule lives in the query, so it holds across
            claims, processes and restarts)
    lane    one task per user delivers its run in order; at the first failure the rest go back
            to the queue behind the failed one
    retry   fast at first (0.2 s, 0.5 s, 1 s), then backing off to 5 minutes, with jitter —
            to 10 s at most while the channel delivers other messages (the platform is up).
            Transient faults (platform busy, timeouts, network, a refused token) retry until
            `give_up_after`; other retryable errors `max_attempts` times; errors retrying
            cannot fix (the user left, invalid content) not at all. A message given up is a dead
            letter (`campusbot outbox dead`) and `on_dead` tells the admins.

Up to `concurrency` users are served at once, and a new lane starts as soon as one ends, so a
slow platform (seconds per call) delays each user's messages, not everybody's. A lane whose call
has waited `slow_call` seconds (most likely hanging until the client's timeout) no longer counts,
up to `most_lanes` in all: calls hanging for their timeout do not hold up everybody else.
Claims are leases renewed while a lane runs; a sender killed with kill -9 leaves claims that
others take again after `outbox.LEASE`.

The lane's own bookkeeping (marking a message sent — `_record_sent` — due again or given up,
giving claims back) rides out a lost database connection with short pauses, so a connection cut
does not leave a sent message unrecorded. When the database stays away longer, the lane stops
and its claims are given back as soon as the database answers again (`_abandoned`), instead of
after the lease: the user waits for the database, not for a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from bot import metrics
from bot.channels.base import DELIVERING, Channel, DeliveryError, PreparesDeliveries
from bot.clock import Clock
from bot.pacing import DATABASE_PAUSES, Interval, patiently, wait_while
from storage import outbox
from storage.errors import DATABASE_UNAVAILABLE, RETRY_TURN
from storage.models import OutboxMessage

log = logging.getLogger("campusbot.outbox")

#: seconds before the next try after the 1st, 2nd, … failure; the last repeats
RETRY_DELAYS = (0.2, 0.5, 1, 1, 2, 3, 5, 8, 15, 30, 60, 120, 300)
#: while the channel delivered other messages within PLATFORM_UP (the platform is up, this
#: message was unlucky), a retry waits at most WHILE_UP_LONGEST — for its first
#: WHILE_UP_ATTEMPTS tries; backing off further is for outages (a load run with 30 % of calls
#: failing had one reply retried 11 times over 4 minutes, most of it in waits of 30–68 s)
PLATFORM_UP = timedelta(seconds=60)
WHILE_UP_LONGEST = 10.0
WHILE_UP_ATTEMPTS = 20
POLL_SECONDS = 2.0
RATE_LIMIT_PAUSE = timedelta(seconds=20)
#: pauses between tries to record a message the platform has taken; they add up to well under
#: the claim's lease, so no other process takes the message again meanwhile
RECORD_SENT_PAUSES = (0.05, 0.2, 0.5, 1.0, 2.0, 3.0)
CONCURRENCY = 64
#: a call still unanswered after this many seconds frees its lane's place for another user;
#: WeCom answers in tens of milliseconds, and a load run with 15 % of calls hanging for the
#: 10-s timeout had every lane hanging and a user's reply waiting 55 s for one
SLOW_CALL = 1.0
#: lanes in all, hanging ones included (each holds an HTTP connection: see
#: bot/channels/base.HTTP_CONNECTIONS)
MOST_LANES = 4 * CONCURRENCY
#: claims are at least this many seconds apart: under load every turn wakes the sender, and one
#: claim (a transaction of four statements) per message cost more than the message's delivery;
#: paced, one claim takes everything the turns of the last interval wrote
CLAIM_INTERVAL = 0.02
#: the longest a claim waits while callbacks are arriving (`OutboxSender.defer_while`)
BURST_DEFER = 0.05

DeadLetterHook = Callable[[OutboxMessage, str], Awaitable[None]]


class Outcome(Enum):
    SENT = "sent"
    RETRY = "retry"      # failed, back in the queue for later: the user's later messages wait
    GIVEN_UP = "dead"    # a dead letter: the user's later messages go on


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    give_up_after: timedelta

    def delay(self, attempts: int, *, platform_up: bool = False) -> float:
        base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
        if platform_up and attempts <= WHILE_UP_ATTEMPTS:
            base = min(base, WHILE_UP_LONGEST)
        return base * random.uniform(0.8, 1.2)  # spread the retries of many users

    def gives_up(self, message: OutboxMessage, error: DeliveryError, now: datetime) -> bool:
        if not error.retryable:
            return True
        if now - message.created_at >= self.give_up_after:
            return True
        return not error.transient and message.attempts >= self.max_attempts


@dataclass
class Lane:
    """One user's claimed run of messages, and what they were sent in the last minute."""

    messages: list[OutboxMessage]
    recent: int


class SentMarks:
    """Marks delivered messages sent, every mark that comes in while one UPDATE is in flight
    going into the next (on SQLite each is a commit and a disk flush). A lane goes on only
    once its message is marked, as before."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._queue: list[tuple[int, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def mark(self, message_id: int) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((message_id, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="outbox-sent")
        await future

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:200], self._queue[200:]
            try:
                await outbox.mark_sent_many([message_id for message_id, _ in batch],
                                            self.clock.now())
            except Exception as exc:  # each lane sees it, as its own UPDATE would have failed
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)


class OutboxSender:
    def __init__(self, channels: dict[str, Channel], clock: Clock, *, max_attempts: int,
                 per_user_per_minute: int, give_up_after: timedelta = timedelta(hours=24),
                 concurrency: int = CONCURRENCY, most_lanes: int = MOST_LANES,
                 slow_call: float = SLOW_CALL, on_dead: DeadLetterHook | None = None) -> None:
        self.channels = {name: c for name, c in channels.items() if c.pushes}
        self.clock = clock
        self.policy = RetryPolicy(max_attempts, give_up_after)
        self.per_user_per_minute = per_user_per_minute
        self.concurrency = concurrency
        self.most_lanes = most_lanes
        self.slow_call = slow_call
        self.on_dead = on_dead
        #: this process's name on its claims
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._lanes: set[asyncio.Task[int]] = set()
        #: lanes whose call has waited longer than `slow_call`: they do not count
        self._slow: set[asyncio.Task[int]] = set()
        #: ids of the claimed messages being delivered (their claims are renewed)
        self._held: set[int] = set()
        #: claims of lanes the database interrupted, to give back once it answers again
        self._abandoned: set[int] = set()
        self._next_retry: float | None = None
        self._claims = Interval(CLAIM_INTERVAL)
        self._sent = SentMarks(clock)
        #: when each channel last delivered a message (is the platform up?)
        self._delivered_at: dict[str, datetime] = {}
        #: true while events are arriving in this process (set by the services: the intake's)
        self.defer_while: Callable[[], bool] | None = None

    def wake(self) -> None:
        self._wake.set()

    # ---- the loop ---------------------------------------------------------------------------
    async def run(self) -> None:
        renewing = asyncio.create_task(self._renew_claims(), name="outbox-leases")
        try:
            while True:
                await self._pace_claims()
                self._wake.clear()
                try:
                    started = await self._start_lanes()
                except asyncio.CancelledError:
                    raise
                except Exception:  # a database hiccup: the loop survives and tries again
                    log.exception("outbox claim failed")
                    started = 0
                if started and self._free() > 0:
                    continue  # there may be more due right now
                await self._wait()
        finally:
            renewing.cancel()
            await self._stop_lanes()

    async def _pace_claims(self) -> None:
        await self._claims.pace()
        # while callbacks are arriving in this process, their answers go first (the platform
        # times them); the claim waits up to BURST_DEFER, then takes what the wait gathered
        await wait_while(self.defer_while, BURST_DEFER)

    async def _wait(self) -> None:
        loop = asyncio.get_running_loop()
        timeout = POLL_SECONDS
        if self._next_retry is not None:
            timeout = max(0.0, min(timeout, self._next_retry - loop.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        if self._next_retry is not None and loop.time() >= self._next_retry:
            self._next_retry = None

    def _free(self) -> int:
        counted = len(self._lanes) - len(self._slow)
        return min(self.concurrency - counted, self.most_lanes - len(self._lanes))

    async def _start_lanes(self) -> int:
        free = self._free()
        if free <= 0 or not self.channels:
            return 0
        await self._give_back_abandoned()
        # up to four messages per free lane (a user's run), but never more users than
        # `most_lanes` in all: each lane has at least one message
        lanes = await self._claim(limit=min(free * 4, self.most_lanes - len(self._lanes)))
        for lane in lanes:
            task = asyncio.create_task(self._deliver_lane(lane),
                                       name=f"outbox-{lane.messages[0].user_id}")
            self._lanes.add(task)
            task.add_done_callback(self._lane_done)
        return len(lanes)

    def _lane_done(self, task: asyncio.Task[int]) -> None:
        self._lanes.discard(task)
        self._slow.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("outbox lane failed", exc_info=task.exception())
        self._wake.set()

    async def _stop_lanes(self) -> None:
        for task in list(self._lanes):
            task.cancel()
        await asyncio.gather(*self._lanes, return_exceptions=True)
        with contextlib.suppress(Exception):  # the claims expire anyway (outbox.LEASE)
            await outbox.release_all(self.owner)

    async def _renew_claims(self) -> None:
        while True:
            await asyncio.sleep(outbox.LEASE.total_seconds() / 3)
            try:
                await outbox.renew(list(self._held), self.owner, self.clock.now())
            except Exception:  # a database hiccup: the next round renews
                log.warning("renewing outbox claims failed", exc_info=True)

    # ---- one round, for tests and draining ---------------------------------------------------
    async def deliver_due(self) -> int:
        """Claim what is due now and deliver it; returns how many messages were attempted."""
        if not self.channels:
            return 0
        await self._give_back_abandoned()
        lanes = await self._claim(limit=self.concurrency * 4)
        results = await asyncio.gather(*(self._deliver_lane(lane) for lane in lanes))
        return sum(results)

    async def _give_back_abandoned(self) -> None:
        if self._abandoned:
            ids = list(self._abandoned)
            await outbox.release(ids, self.owner)
            self._abandoned.difference_update(ids)

    async def _claim(self, *, limit: int) -> list[Lane]:
        claimed = await outbox.claim_due(self.clock.now(), list(self.channels),
                                         owner=self.owner, limit=limit)
        lanes: dict[tuple[str, str], list[OutboxMessage]] = {}
        for message in claimed:
            lanes.setdefault((message.channel, message.user_id), []).append(message)
        if not lanes:
            return []
        # what each user was sent in the last minute (the rate limit), for all lanes at once
        recent = await outbox.sent_counts(list(lanes), self.clock.now() - timedelta(minutes=1))
        await self._prepare(lanes)
        return [Lane(messages, recent.get(key, 0)) for key, messages in lanes.items()]

    async def _prepare(self, lanes: dict[tuple[str, str], list[OutboxMessage]]) -> None:
        """Let each channel read what its deliveries need for all lanes at once; if that
        fails, each delivery reads its own."""
        by_channel: dict[str, dict[str, list[int]]] = {}
        for (channel, user), messages in lanes.items():
            by_channel.setdefault(channel, {})[user] = [m.id for m in messages]
        for name, claimed in by_channel.items():
            channel = self.channels[name]
            if isinstance(channel, PreparesDeliveries):
                try:
                    await channel.prepare(claimed)
                except Exception:
                    log.warning("preparing %d deliveries on %s failed", len(claimed), name,
                                exc_info=True)

    # ---- one user's run ---------------------------------------------------------------------
    async def _deliver_lane(self, lane: Lane) -> int:
        """Deliver in order; at the first that must wait, the rest go back behind it."""
        messages, recent = lane.messages, lane.recent
        first = messages[0]
        attempted = 0
        done: set[int] = set()
        self._held.update(m.id for m in messages)
        try:
            for index, message in enumerate(messages):
                rest = [m.id for m in messages[index + 1:]]
                if recent >= self.per_user_per_minute:
                    # the platform silently drops messages beyond its per-member limit: wait
                    later = self.clock.now() + RATE_LIMIT_PAUSE
                    await patiently(outbox.defer, message.id, next_try_at=later)
                    done.add(message.id)
                    await patiently(outbox.release, rest, self.owner)
                    done.update(rest)
                    return attempted
                attempted += 1
                outcome = await self._deliver(message)
                done.add(message.id)
                if outcome is Outcome.SENT:
                    recent += 1
                elif outcome is Outcome.RETRY:
                    await patiently(outbox.release, rest, self.owner)
                    done.update(rest)
                    return attempted
        except asyncio.CancelledError:
            raise
        except Exception:  # the database stayed away: its claims go back when it returns
            log.exception("outbox delivery to %s interrupted", first.user_id)
            self._abandoned.update(m.id for m in messages if m.id not in done)
            self._retry_in(DATABASE_PAUSES[-1])
        finally:
            self._held.difference_update(m.id for m in messages)
        return attempted

    async def _deliver(self, message: OutboxMessage) -> Outcome:
        channel = self.channels[message.channel]
        marker = DELIVERING.set(message.id)
        lane = asyncio.current_task()
        slow = asyncio.get_running_loop().call_later(self.slow_call, self._call_is_slow, lane)
        try:
            await channel.send(message.user_id, message.payload)
        except DeliveryError as exc:
            return await self._failed(message, exc)
        except (TimeoutError, *DATABASE_UNAVAILABLE) as exc:  # includes OSError (network)
            return await self._failed(message, DeliveryError(
                f"{type(exc).__name__}: {exc}", transient=True))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in a channel: retried a few times, then a dead letter
            log.exception("outbox message %s: unexpected error while sending", message.id)
            return await self._failed(message, DeliveryError(f"{type(exc).__name__}: {exc}"))
        finally:
            DELIVERING.reset(marker)
            slow.cancel()
            self._slow.discard(lane)  # type: ignore[arg-type]  # None is never in it
        await self._record_sent(message)
        self._delivered_at[message.channel] = self.clock.now()
        metrics.DELIVERIES.inc(channel=message.channel, outcome="sent")
        return Outcome.SENT

    def _call_is_slow(self, lane: asyncio.Task[Any] | None) -> None:
        if lane is not None and lane in self._lanes:  # not a lane of `deliver_due`
            self._slow.add(lane)
            self._wake.set()

    async def _record_sent(self, message: OutboxMessage) -> None:
        """The platform has the message: if the database is away just now (a restart, a cut
        connection), keep trying rather than leave it to be claimed and sent again."""
        await patiently(self._sent.mark, message.id, pauses=RECORD_SENT_PAUSES,
                       retry_on=RETRY_TURN)

    async def _failed(self, message: OutboxMessage, error: DeliveryError) -> Outcome:
        now = self.clock.now()
        if self.policy.gives_up(message, error, now):
            log.error("outbox message %s to %s given up after %d attempts: %s", message.id,
                      message.user_id, message.attempts, error)
            await patiently(outbox.mark_failed, message.id, error=str(error), now=now)
            metrics.DELIVERIES.inc(channel=message.channel, outcome="dead")
            if self.on_dead is not None:
                try:
                    await self.on_dead(message, str(error))
                except Exception:  # telling the admins must not stop the user's queue
                    log.exception("could not tell the admins about outbox message %s",
                                  message.id)
            return Outcome.GIVEN_UP
        delivered_at = self._delivered_at.get(message.channel)
        delay = self.policy.delay(message.attempts, platform_up=delivered_at is not None
                                  and now - delivered_at <= PLATFORM_UP)
        log.warning("outbox message %s to %s failed (attempt %d), retry in %.1f s: %s",
                    message.id, message.user_id, message.attempts, delay, error)
        later = now + timedelta(seconds=delay)
        await patiently(outbox.mark_retry, message.id, error=str(error), next_try_at=later)
        metrics.DELIVERIES.inc(channel=message.channel, outcome="retry")
        self._retry_in(delay)
        return Outcome.RETRY

    def _retry_in(self, seconds: float) -> None:
        """Wake the loop when the retry is due (the next poll may be later)."""
        with contextlib.suppress(RuntimeError):
            at = asyncio.get_running_loop().time() + seconds
            if self._next_retry is None or at < self._next_retry:
                self._next_retry = at
            self._wake.set()
