"""Inbound events: stored before acknowledging, so nothing a user typed is lost or done twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Min

from storage.models import InboundEvent


async def record_inbound(*, channel: str, dedupe_key: str, user_id: str, payload: dict[str, Any],
                         now: datetime) -> InboundEvent | None:
    """Store an event; None when the same event was stored before (a platform retry)."""
    try:
        return await InboundEvent.create(channel=channel, dedupe_key=dedupe_key[:255],
                                         user_id=user_id, payload=payload, received_at=now)
    except IntegrityError:
        return None


async def mark_processed(event_id: int, now: datetime) -> bool:
    """Mark done; False when another worker finished it first (so its effects must roll back)."""
    return await InboundEvent.filter(id=event_id, status="received").update(
        status="done", processed_at=now) == 1


async def mark_failed(event_id: int, now: datetime, attempts: int) -> None:
    await InboundEvent.filter(id=event_id).update(status="failed", processed_at=now,
                                                  attempts=attempts)


async def bump_attempts(event_id: int) -> int:
    event = await InboundEvent.get(id=event_id)
    event.attempts += 1
    await event.save(update_fields=["attempts"])
    return event.attempts


async def unprocessed(older_than: datetime, limit: int = 50, *,
                      failed_only: bool = False) -> list[InboundEvent]:
    """Events stored but never processed (the process died, or their turn failed); replayed by
    the recovery job. `failed_only`: just those a turn already failed on."""
    query = InboundEvent.filter(status="received", received_at__lt=older_than)
    if failed_only:
        query = query.filter(attempts__gt=0)
    return await query.order_by("id").limit(limit)


async def next_per_user(limit: int, skip_users: set[str]) -> list[InboundEvent]:
    """For the turn workers: each user's oldest event still waiting for its turn.

    Only the oldest per user, so that workers in several processes keep each user's messages
    in order: while one worker runs it, another that picks it too finds it done (see
    `Dispatcher`), and the user's next message waits its turn. A user whose oldest event a turn
    already failed on (attempts > 0) waits for the recovery job, which retries it with back-off
    and, after the last try, lets the user's later messages through.
    """
    held = set(await InboundEvent.filter(status="received", attempts__gt=0).values_list(
        "user_id", flat=True))
    excluded = held | skip_users
    waiting = InboundEvent.filter(status="received")
    if excluded:
        waiting = waiting.exclude(user_id__in=list(excluded))
    heads = await waiting.group_by("user_id").annotate(first=Min("id")).order_by(
        "first").limit(limit).values_list("first", flat=True)
    return list(await InboundEvent.filter(id__in=list(heads)).order_by("id"))


async def is_pending(event_id: int) -> bool:
    return await InboundEvent.filter(id=event_id, status="received").exists()


async def get_event(event_id: int) -> InboundEvent | None:
    return await InboundEvent.get_or_none(id=event_id)


async def purge_processed(before: datetime) -> int:
    return await InboundEvent.filter(status="done", processed_at__lt=before).delete()


RETENTION = timedelta(days=7)
