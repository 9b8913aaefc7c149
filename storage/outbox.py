"""The outbox: messages written with the turn that caused them, delivered in order per user.

Each user's unfinished messages ('pending', or 'sending' while a sender holds them) form a
queue in id order, and only its head may go: `claim_due` takes, per user, the longest run of
messages from the head that are all due, so a message waiting for its retry holds back every
later message to that user — across claims, processes and restarts, since the rule is in the
claim query. A message given up ('failed', a dead letter) or sent leaves the queue.

A claim is a lease: the sender renews `claimed_at` while it delivers (`renew`), and a claim not
renewed for `LEASE` (the process died) can be taken again, still in order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from storage import identities
from storage.held_writes import Write, write
from storage.models import OutboxMessage
from storage.sql import db_values, marks, value_rows
from storage.transactions import transaction

UNFINISHED = ("pending", "sending")
#: a claim not renewed for this long belongs to a dead process
LEASE = timedelta(seconds=15)
#: serialises claims on PostgreSQL (see `claim_due`)
_CLAIM_LOCK = 0x6F7574626F78   # "outbox"


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


class NewMessage(NamedTuple):
    channel: str
    user_id: str
    payload: dict[str, Any]
    dedupe_key: str | None = None
    #: the turn that wrote it (when several turns' messages go in one statement)
    turn_id: str | None = None


_INSERTED = ("channel", "user_id", "payload", "status", "attempts", "next_try_at",
             "created_at", "turn_id", "dedupe_key", "last_error")


async def enqueue_many(messages: Sequence[NewMessage], now: datetime,
                       turn_id: str | None = None) -> None:
    """Queue messages — a turn's, or a batch of turns' — in order, in one statement; a message
    whose `dedupe_key` was queued before is left out (the effect already exists). A message's
    own `turn_id` goes before `turn_id`."""
    if not messages:
        return
    db = connections.get("default")
    is_postgres = db.capabilities.dialect == "postgres"
    values: list[Any] = []
    for message in messages:
        values.extend(db_values(OutboxMessage, _INSERTED, {
            "channel": message.channel, "user_id": message.user_id,
            "payload": message.payload, "status": "pending", "attempts": 0,
            "next_try_at": now, "created_at": now, "turn_id": message.turn_id or turn_id,
            "dedupe_key": message.dedupe_key, "last_error": ""}))
    # rows of one multi-row INSERT get their ids in the order listed (both databases), which is
    # the order the user receives them in
    await write(Write(
        f"INSERT INTO {OutboxMessage._meta.db_table} ({', '.join(_INSERTED)}) VALUES "
        f"{value_rows(len(_INSERTED), len(messages), is_postgres)} "
        "ON CONFLICT (dedupe_key) DO NOTHING", values))


async def claim_due(now: datetime, channels: Sequence[str], *, owner: str, limit: int = 100,
                    per_user: int = 10) -> list[OutboxMessage]:
    """Take messages for delivery, in id order: per user, the run of unfinished messages from
    the head of their queue that may go now (pending and due, or held by a dead process), at
    most `per_user` of them. A user whose head is not due (waiting for a retry) or held by a
    live sender gets nothing.

    On PostgreSQL the claims of all processes take turns (a transaction-level advisory lock),
    because a claim decides from what it reads: two claims at once could each see the other's
    rows as free and hand out a user's second message while the first is being taken."""
    if not channels:
        return []
    client = connections.get("default")
    postgres = client.capabilities.dialect == "postgres"
    sql, values = claim_statement(now, channels, owner=owner, limit=limit, per_user=per_user,
                                  postgres=postgres)
    if postgres:
        async with transaction() as connection:
            await connection.execute_query("SELECT pg_advisory_xact_lock($1)", [_CLAIM_LOCK])
            rows = await connection.execute_query_dict(sql, values)
    else:  # one statement: SQLite's write lock makes it atomic
        rows = await client.execute_query_dict(sql, values)
    # the claimed rows as they are now (claimed, the attempt counted), without reading them again
    claimed = [OutboxMessage._init_from_db(**row) for row in rows]
    return sorted(claimed, key=lambda message: message.id)


def claim_statement(now: datetime, channels: Sequence[str], *, owner: str, limit: int,
                    per_user: int, postgres: bool) -> tuple[str, list[Any]]:
    """The claim's UPDATE and its values (see `claim_due`). On PostgreSQL it reads the
    unfinished rows through the partial index `outbox_unfinished` (migration 0006), not the
    status index, which keeps every old version of every row until VACUUM."""
    fields = OutboxMessage._meta.fields_map
    at = fields["next_try_at"].to_db_value(now, OutboxMessage)
    stale = fields["claimed_at"].to_db_value(now - LEASE, OutboxMessage)
    values: list[Any] = [at, owner, at, stale, *channels, per_user, limit, stale]
    marks = _marks(len(values), postgres)
    channel_marks = ", ".join(marks[4:4 + len(channels)])
    # SQLite (no statistics) would use the channel index and read every message ever sent on
    # the channel; "+channel" keeps it on the status index, the few unfinished rows
    channel_column = "channel" if postgres else "+channel"
    n_per_user, n_limit, n_stale = marks[4 + len(channels):]
    table = OutboxMessage._meta.db_table
    sql = f"""
        UPDATE {table} SET status = 'sending', claimed_at = {marks[0]}, claimed_by = {marks[1]},
               attempts = attempts + 1
        WHERE id IN (
            SELECT id FROM (
                SELECT id, ROW_NUMBER() OVER lane AS position,
                       SUM(CASE WHEN (status = 'pending' AND next_try_at <= {marks[2]})
                                  OR (status = 'sending' AND claimed_at < {marks[3]})
                                THEN 0 ELSE 1 END) OVER lane AS blocked
                FROM {table}
                WHERE status IN ('pending', 'sending') AND {channel_column} IN ({channel_marks})
                WINDOW lane AS (PARTITION BY channel, user_id ORDER BY id
                                ROWS UNBOUNDED PRECEDING)
            ) AS lanes
            WHERE blocked = 0 AND position <= {n_per_user}
            ORDER BY id LIMIT {n_limit}
        )
        AND (status = 'pending' OR claimed_at < {n_stale})
        RETURNING *"""
    return sql, values


def _marks(count: int, postgres: bool, start: int = 0) -> list[str]:
    return marks(count, postgres, start)


async def renew(message_ids: Sequence[int], owner: str, now: datetime) -> int:
    """Keep the claims a sender is delivering alive (see LEASE). Only those: a claim the
    sender lost track of (the claim's answer was lost with the connection) must expire."""
    if not message_ids:
        return 0
    return await OutboxMessage.filter(id__in=list(message_ids), claimed_by=owner,
                                      status="sending").update(claimed_at=now)


async def release(message_ids: Sequence[int], owner: str) -> None:
    """Give claimed messages back untried (an earlier one failed, or the sender stops); they
    keep their place in the queue."""
    if not message_ids:
        return
    client = connections.get("default")
    postgres = client.capabilities.dialect == "postgres"
    marks = _marks(len(message_ids) + 1, postgres)
    await client.execute_query(
        f"UPDATE {OutboxMessage._meta.db_table} SET status = 'pending', claimed_by = NULL, "
        f"attempts = attempts - 1 WHERE status = 'sending' AND claimed_by = {marks[0]} "
        f"AND id IN ({', '.join(marks[1:])})", [owner, *message_ids])


async def release_all(owner: str) -> None:
    """At shutdown: everything this sender still holds goes back to the queue."""
    ids = await OutboxMessage.filter(claimed_by=owner, status="sending").values_list(
        "id", flat=True)
    await release(list(ids), owner)


async def mark_sent(message_id: int, now: datetime) -> None:
    await mark_sent_many([message_id], now)


async def mark_sent_many(message_ids: Sequence[int], now: datetime) -> None:
    """Several messages delivered, in one statement."""
    if not message_ids:
        return
    db = connections.get("default")
    m = marks(len(message_ids) + 1, db.capabilities.dialect == "postgres")
    await db.execute_query(
        f"UPDATE {OutboxMessage._meta.db_table} SET status = 'sent', sent_at = {m[0]}, "
        f"last_error = '', claimed_by = NULL WHERE id IN ({', '.join(m[1:])})",
        [OutboxMessage._meta.fields_map["sent_at"].to_db_value(now, OutboxMessage),
         *message_ids])


async def mark_retry(message_id: int, *, error: str, next_try_at: datetime) -> None:
    await OutboxMessage.filter(id=message_id).update(status="pending", next_try_at=next_try_at,
                                                     last_error=error[:2000], claimed_by=None)


async def mark_failed(message_id: int, *, error: str, now: datetime) -> None:
    """Give the message up: a dead letter (`dead_letters`); the user's later messages go on."""
    await OutboxMessage.filter(id=message_id).update(status="failed", last_error=error[:2000],
                                                     failed_at=now, claimed_by=None)


async def defer(message_id: int, *, next_try_at: datetime) -> None:
    """Put a claimed message back without counting the attempt (e.g. rate limit)."""
    client = connections.get("default")
    postgres = client.capabilities.dialect == "postgres"
    marks = _marks(2, postgres)
    await client.execute_query(
        f"UPDATE {OutboxMessage._meta.db_table} SET status = 'pending', claimed_by = NULL, "
        f"attempts = attempts - 1, next_try_at = {marks[0]} WHERE id = {marks[1]}",
        [OutboxMessage._meta.fields_map["next_try_at"].to_db_value(next_try_at, OutboxMessage),
         message_id])


async def sent_counts(recipients: Sequence[tuple[str, str]],
                      since: datetime) -> dict[tuple[str, str], int]:
    """Messages sent since `since`, per (channel, user) of `recipients`, in one statement
    (those with none are left out)."""
    if not recipients:
        return {}
    users = sorted({user for _, user in recipients})
    db = connections.get("default")
    m = marks(len(users) + 1, db.capabilities.dialect == "postgres")
    rows = await db.execute_query_dict(
        f"SELECT channel, user_id, COUNT(*) AS sent FROM {OutboxMessage._meta.db_table} "
        f"WHERE user_id IN ({', '.join(m[1:])}) AND status = 'sent' AND sent_at >= {m[0]} "
        "GROUP BY channel, user_id",
        [OutboxMessage._meta.fields_map["sent_at"].to_db_value(since, OutboxMessage), *users])
    wanted = set(recipients)
    return {(row["channel"], row["user_id"]): int(row["sent"]) for row in rows
            if (row["channel"], row["user_id"]) in wanted}


class Recent(NamedTuple):
    id: int
    status: str
    #: the payload as the database returned it (JSON text, or already decoded): decoding every
    #: message of the last hour on every delivery cost more than the query (`decoded`)
    raw_payload: Any
    sent_at: datetime | None

    def decoded(self) -> dict[str, Any]:
        value = self.raw_payload
        return value if isinstance(value, dict) else json.loads(value)


class DeliveryView(NamedTuple):
    """What a channel reads before sending to a user: their messages being delivered and those
    sent since a time (for the platform's limits), and their account on the channel."""

    recent: list[Recent]
    address: str


async def delivery_view(channel: str, user_id: str, since: datetime) -> DeliveryView:
    """The user's messages being delivered ('sending') and those sent since `since`, oldest
    first, and their account on `channel` (`identities.address_sql`), in one statement."""
    return (await delivery_views(channel, [user_id], since, sending=True))[user_id]


async def delivery_views(channel: str, user_ids: Sequence[str], since: datetime, *,
                         sending: bool = False) -> dict[str, DeliveryView]:
    """`delivery_view` of several users in one statement (the sender reads them for all the
    users of a claim at once); with `sending` False only what was sent since `since`."""
    if not user_ids:
        return {}
    db = connections.get("default")
    postgres = db.capabilities.dialect == "postgres"
    people = sorted(set(user_ids))
    m = marks(len(people) + 2, postgres, numbered=True)
    cast = "::text" if postgres else ""
    wanted = ", ".join(f"({mark}{cast})" for mark in m[2:])
    status = ("(o.status = 'sending' OR (o.status = 'sent' AND o.sent_at >= {since}))"
              if sending else "o.status = 'sent' AND o.sent_at >= {since}").format(since=m[1])
    fields = OutboxMessage._meta.fields_map
    rows = await db.execute_query_dict(
        f"WITH wanted (person) AS (VALUES {wanted}) "
        f"SELECT w.person, {identities.address_sql(m[0], 'w.person')} AS address, "
        "o.id, o.status, o.payload, o.sent_at FROM wanted AS w "
        f"LEFT JOIN {OutboxMessage._meta.db_table} AS o ON o.user_id = w.person "
        # "+channel" on SQLite (no statistics), which would otherwise read the channel index —
        # every message ever sent on the channel — instead of the user's
        f"AND {'o.channel' if postgres else '+o.channel'} = {m[0]} AND {status} "
        "ORDER BY o.id",
        [channel, fields["sent_at"].to_db_value(since, OutboxMessage), *people])
    sent_at = fields["sent_at"]
    views: dict[str, DeliveryView] = {}
    for row in rows:
        view = views.setdefault(row["person"], DeliveryView([], str(row["address"])))
        if row["id"] is not None:
            view.recent.append(Recent(int(row["id"]), row["status"], row["payload"],
                                      sent_at.to_python_value(row["sent_at"])))
    return views


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
    return await OutboxMessage.filter(status__in=list(UNFINISHED)).count()


# ---- dead letters -----------------------------------------------------------------------------

async def dead_letters(limit: int = 50) -> list[OutboxMessage]:
    """Messages given up, newest first."""
    return list(await OutboxMessage.filter(status="failed").order_by("-id").limit(limit))


async def retry_dead(message_id: int, now: datetime) -> bool:
    """Put a dead letter back in its user's queue, to be sent as soon as possible."""
    return await OutboxMessage.filter(id=message_id, status="failed").update(
        status="pending", attempts=0, next_try_at=now, failed_at=None) == 1
