"""The outbox: messages written with the turn that caused them, delivered with retries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from storage.models import OutboxMessage


async def enqueue(*, channel: str, user_id: str, payload: dict[str, Any], now: datetime,
                  turn_id: str | None = None, dedupe_key: str | None = None) -> bool:
    """Queue a message; False when `dedupe_key` was queued before (the effect already exists)."""
    if dedupe_key is not None and await OutboxMessage.exists(dedupe_key=dedupe_key):
        return False
    try:
        async with in_transaction():  # a savepoint inside the turn's transaction
            await OutboxMessage.create(channel=channel, user_id=user_id, payload=payload,
                                       next_try_at=now, created_at=now, turn_id=turn_id,
                                       dedupe_key=dedupe_key)
    except IntegrityError:
        return False
    return True


async def claim_due(now: datetime, channels: Sequence[str], *, limit: int = 50,
                    stale_after: timedelta = timedelta(minutes=5)) -> list[OutboxMessage]:
    """Take due messages for delivery. A message left 'sending' by a dead process is retaken."""
    candidates = await OutboxMessage.filter(
        channel__in=list(channels), status="pending", next_try_at__lte=now,
    ).order_by("id").limit(limit)
    stale = await OutboxMessage.filter(
        channel__in=list(channels), status="sending", claimed_at__lt=now - stale_after,
    ).order_by("id").limit(limit)
    claimed = []
    for message in [*stale, *candidates]:
        took = await OutboxMessage.filter(id=message.id, status=message.status,
                                          attempts=message.attempts).update(
            status="sending", claimed_at=now, attempts=message.attempts + 1)
        if took == 1:
            message.status, message.attempts = "sending", message.attempts + 1
            claimed.append(message)
    return claimed


async def mark_sent(message_id: int, now: datetime) -> None:
    await OutboxMessage.filter(id=message_id).update(status="sent", sent_at=now, last_error="")


async def mark_retry(message_id: int, *, error: str, next_try_at: datetime) -> None:
    await OutboxMessage.filter(id=message_id).update(status="pending", next_try_at=next_try_at,
                                                     last_error=error[:2000])


async def mark_failed(message_id: int, *, error: str) -> None:
    await OutboxMessage.filter(id=message_id).update(status="failed", last_error=error[:2000])


async def sent_since(channel: str, user_id: str, since: datetime) -> int:
    return await OutboxMessage.filter(channel=channel, user_id=user_id, status="sent",
                                      sent_at__gte=since).count()


async def take_for_user(channel: str, user_id: str, now: datetime,
                        turn_id: str | None = None) -> list[OutboxMessage]:
    """Deliver to a pull-based channel (the simulator): pending messages become sent."""
    query = OutboxMessage.filter(channel=channel, user_id=user_id, status="pending")
    if turn_id is not None:
        query = query.filter(turn_id=turn_id)
    messages = await query.order_by("id")
    taken = []
    for message in messages:
        if await OutboxMessage.filter(id=message.id, status="pending").update(
                status="sent", sent_at=now) == 1:
            taken.append(message)
    return taken


async def pending_count() -> int:
    return await OutboxMessage.filter(status__in=["pending", "sending"]).count()


async def defer(message_id: int, *, next_try_at: datetime) -> None:
    """Put a claimed message back without counting the attempt (e.g. rate limit)."""
    message = await OutboxMessage.get(id=message_id)
    await OutboxMessage.filter(id=message_id).update(
        status="pending", next_try_at=next_try_at, attempts=max(message.attempts - 1, 0))
