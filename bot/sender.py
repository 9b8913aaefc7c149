"""Delivers the outbox: in order per user, rate-limited per user, retried with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from datetime import timedelta

from bot.channels.base import Channel, DeliveryError
from bot.clock import Clock
from storage import outbox
from storage.models import OutboxMessage

log = logging.getLogger("campusbot.outbox")

BACKOFF_SECONDS = (2, 5, 15, 30, 60, 120, 300, 600, 1800)
POLL_SECONDS = 2.0


class OutboxSender:
    def __init__(self, channels: dict[str, Channel], clock: Clock, *, max_attempts: int,
                 per_user_per_minute: int) -> None:
        self.channels = {name: c for name, c in channels.items() if c.pushes}
        self.clock = clock
        self.max_attempts = max_attempts
        self.per_user_per_minute = per_user_per_minute
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_SECONDS)
            self._wake.clear()
            try:
                while await self.deliver_due():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must survive a database hiccup; it retries next poll
                log.exception("outbox delivery round failed")

    async def deliver_due(self) -> int:
        """Deliver what is due now; returns how many messages were attempted."""
        if not self.channels:
            return 0
        claimed = await outbox.claim_due(self.clock.now(), list(self.channels))
        by_user: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
        for message in claimed:
            by_user[(message.channel, message.user_id)].append(message)
        await asyncio.gather(*(self._deliver_in_order(messages) for messages in by_user.values()))
        return len(claimed)

    async def _deliver_in_order(self, messages: list[OutboxMessage]) -> None:
        for index, message in enumerate(messages):
            if not await self._deliver(message):
                # keep the user's messages in order: the rest wait for the failed one
                for later in messages[index + 1:]:
                    await outbox.mark_retry(later.id, error="等待前一条消息",
                                            next_try_at=self.clock.now() + timedelta(seconds=1))
                return

    async def _deliver(self, message: OutboxMessage) -> bool:
        channel = self.channels[message.channel]
        now = self.clock.now()
        recent = await outbox.sent_since(message.channel, message.user_id,
                                         now - timedelta(minutes=1))
        if recent >= self.per_user_per_minute:
            # the platform silently drops messages beyond its per-member limit: wait instead
            await outbox.defer(message.id, next_try_at=now + timedelta(seconds=20))
            return False
        try:
            await channel.send(message.user_id, message.payload)
        except DeliveryError as exc:
            return await self._failed(message, str(exc), retryable=exc.retryable)
        except (TimeoutError, OSError) as exc:
            return await self._failed(message, f"{type(exc).__name__}: {exc}", retryable=True)
        await outbox.mark_sent(message.id, self.clock.now())
        return True

    async def _failed(self, message: OutboxMessage, error: str, *, retryable: bool) -> bool:
        if not retryable or message.attempts >= self.max_attempts:
            log.error("outbox message %s to %s failed for good after %d attempts: %s",
                      message.id, message.user_id, message.attempts, error)
            await outbox.mark_failed(message.id, error=error)
            return True  # give up on this one; later messages may go
        delay = BACKOFF_SECONDS[min(message.attempts - 1, len(BACKOFF_SECONDS) - 1)]
        log.warning("outbox message %s to %s failed (attempt %d), retry in %ss: %s",
                    message.id, message.user_id, message.attempts, delay, error)
        await outbox.mark_retry(message.id, error=error,
                                next_try_at=self.clock.now() + timedelta(seconds=delay))
        return False
