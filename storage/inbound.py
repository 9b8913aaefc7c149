"""Inbound events: stored before acknowledging, so nothing a user typed is lost or done twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.functions import Min

from storage.models import InboundEvent

MAX_KEY = 255
_COLUMNS = ("channel", "dedupe_key", "user_id", "payload", "status", "attempts", "received_at")


class NewEvent(NamedTuple):
    channel: str
    dedupe_key: str
    user_id: str
    payload: dict[str, Any]


def stored_key(dedupe_key: str) -> str:
    return dedupe_key[:MAX_KEY]


async def insert_many(events: list[NewEvent], now: datetime) -> dict[tuple[str, str], int]:
    """Store several events in one statement (`INSERT … ON CONFLICT DO NOTHING RETURNING`):
    the ids of the rows that were new, by (channel, stored key). The database's unique key
    decides what is a duplicate, so copies arriving at two replicas at once have one effect."""
    client = connections.get("default")
    fields = InboundEvent._meta.fields_map
    values: list[Any] = []
    for event in events:
        row = {"channel": event.channel, "dedupe_key": stored_key(event.dedupe_key),
               "user_id": event.user_id, "payload": event.payload,
               "status": "received", "attempts": 0, "received_at": now}
        values.extend(fields[name].to_db_value(row[name], InboundEvent) for name in _COLUMNS)
    postgres = client.capabilities.dialect == "postgres"
    width = len(_COLUMNS)
    groups = []
    for row_index in range(len(events)):
        marks = [f"${row_index * width + n + 1}" if postgres else "?" for n in range(width)]
        groups.append("(" + ", ".join(marks) + ")")
    table = InboundEvent._meta.db_table
    sql = (f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES {', '.join(groups)} "
           "ON CONFLICT (channel, dedupe_key) DO NOTHING RETURNING id, channel, dedupe_key")
    returned = await client.execute_query_dict(sql, values)  # execute_query drops RETURNING rows
    return {(row["channel"], row["dedupe_key"]): int(row["id"]) for row in returned}


async def record_inbound(*, channel: str, dedupe_key: str, user_id: str, payload: dict[str, Any],
                         now: datetime) -> InboundEvent | None:
    """Store an event; None when the same event was stored before (a platform retry)."""
    try:
        return await InboundEvent.create(channel=channel, dedupe_key=stored_key(dedupe_key),
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
