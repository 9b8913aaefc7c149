"""Inbound events: stored before acknowledging, so nothing a user typed is lost or done twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from tortoise import connections
from tortoise.exceptions import IntegrityError

from storage.held_writes import Write, write
from storage.models import InboundEvent
from storage.sql import client, marks, postgres

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


async def head_of(user_id: str) -> InboundEvent | None:
    """The user's oldest event still waiting for its turn: the only one a turn may run, so that
    a user's messages are handled in the order they were stored, whoever runs them."""
    return await InboundEvent.filter(user_id=user_id, status="received").order_by("id").first()


def is_held(event: InboundEvent, now: datetime) -> bool:
    """A turn failed on this event and its next try is not due yet."""
    return event.attempts > 0 and event.next_try_at is not None and event.next_try_at > now


async def mark_processed(event_ids: Sequence[int], now: datetime) -> None:
    """Mark events done, in one statement; an event another worker finished first fails the
    transaction (`ConcurrentUpdate`: the caller's effects must roll back)."""
    if not event_ids:
        return
    db = client()
    m = marks(len(event_ids) + 1, postgres(db))
    await write(Write(
        f"UPDATE inbound_events SET status = 'done', processed_at = {m[0]} "
        f"WHERE id IN ({', '.join(m[1:])}) AND status = 'received'",
        [InboundEvent._meta.fields_map["processed_at"].to_db_value(now, InboundEvent),
         *event_ids], expect=len(event_ids), what=f"inbound events {list(event_ids)}"))


async def record_failure(event_id: int, now: datetime, *, next_try_at: datetime | None) -> int:
    """A turn failed on the event: count it and hold the event (and the user's later ones) until
    `next_try_at`; None gives it up (status 'failed', the later ones go on). Returns the
    attempts so far."""
    event = await InboundEvent.get(id=event_id)
    event.attempts += 1
    if next_try_at is None:
        await InboundEvent.filter(id=event_id).update(status="failed", processed_at=now,
                                                      attempts=event.attempts)
    else:
        await InboundEvent.filter(id=event_id).update(attempts=event.attempts,
                                                      next_try_at=next_try_at)
    return event.attempts


async def due_heads(now: datetime, orphaned_before: datetime, limit: int = 50) -> list[
        InboundEvent]:
    """For the recovery job: each user's oldest waiting event when nobody is going to run it —
    stored before `orphaned_before` and never tried (the process that stored it died, or its
    turn was cut short), or tried, failed and due again."""
    heads = await _heads(limit=10 * limit, skip_users=set(), now=now)
    due = [event for event in heads
           if (event.attempts == 0 and event.received_at < orphaned_before)
           or (event.attempts > 0 and not is_held(event, now))]
    return due[:limit]


async def next_per_user(limit: int, skip_users: set[str],
                        now: datetime | None = None) -> list[InboundEvent]:
    """For the turn workers: each user's oldest event still waiting for its turn.

    Only the oldest per user; the turn itself checks again, under the user's conversation lock,
    that no older event of the user waits (`head_of`), so workers in several processes keep each
    user's messages in order. A user whose oldest event a turn failed on waits until its retry
    is due (`record_failure`); the user's later messages wait behind it.
    """
    return await _heads(limit=limit, skip_users=skip_users, now=now)


async def _heads(*, limit: int, skip_users: set[str], now: datetime | None) -> list[InboundEvent]:
    """Each user's oldest waiting event, oldest first, leaving out `skip_users` and users with
    an event held until its retry (failed, `next_try_at` still ahead): one statement, through
    the partial index of waiting events (migration 0006). The workers ask it every time a turn
    ends."""
    db = client()
    skipped = sorted(skip_users)
    m = marks(len(skipped) + 2, postgres(db))
    values: list[Any] = list(skipped)
    skip = f"AND user_id NOT IN ({', '.join(m[:len(skipped)])}) " if skipped else ""
    held_after = ""
    if now is not None:
        held_after = f"AND h.next_try_at > {m[len(skipped)]} "
        values.append(InboundEvent._meta.fields_map["next_try_at"].to_db_value(now, InboundEvent))
    values.append(limit)
    rows = await db.execute_query_dict(
        "SELECT * FROM inbound_events WHERE id IN ("
        "SELECT MIN(id) FROM inbound_events AS w WHERE status = 'received' " + skip
        + "AND NOT EXISTS (SELECT 1 FROM inbound_events AS h WHERE h.user_id = w.user_id "
        "AND h.status = 'received' AND h.attempts > 0 " + held_after + ") "
        f"GROUP BY user_id ORDER BY MIN(id) LIMIT {m[len(values) - 1]}) ORDER BY id", values)
    return [InboundEvent._init_from_db(**row) for row in rows]


async def is_pending(event_id: int) -> bool:
    return await InboundEvent.filter(id=event_id, status="received").exists()


async def get_event(event_id: int) -> InboundEvent | None:
    return await InboundEvent.get_or_none(id=event_id)


async def purge_processed(before: datetime) -> int:
    return await InboundEvent.filter(status="done", processed_at__lt=before).delete()


RETENTION = timedelta(days=7)
