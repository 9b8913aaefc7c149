"""What a turn reads before it runs, in one statement: the person's conversation (locked), the
user's oldest waiting event, whether another one waits behind it, and the application being
filled in.

On PostgreSQL the statement locks the conversation row (`FOR UPDATE OF c`), so a second
process's turn for the same person waits, as `lock_conversation` does. After such a wait the
other rows of the statement may be from before the first turn committed (PostgreSQL re-reads
only the locked row); every write of the turn is guarded — the conversation and the
application by their version, the event by `status = 'received'` — so a turn that read an
event already processed, or an application already changed, rolls back and runs again
(`ConcurrentUpdate`), seeing the new rows. On SQLite the write lock and the same guards
serialise the turns.

A conversation that does not exist yet is created (once per person) and the statement read
again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError

from storage.errors import ConcurrentUpdate
from storage.models import Application, Conversation, InboundEvent
from storage.sql import client, from_row, postgres, select_list


@dataclass
class TurnState:
    conversation: Conversation
    #: the user's oldest event still waiting for its turn (None: nothing waits)
    head: InboundEvent | None
    #: another event of the user waits behind the head (the turn goes on with it afterwards)
    more: bool
    #: the conversation's active application as stored (None: none, or it is gone)
    application: Application | None


_statements: dict[bool, str] = {}


def _statement(is_postgres: bool) -> str:
    if is_postgres not in _statements:
        # numbered on both: each is used more than once
        person, user = ("$1", "$2") if is_postgres else ("?1", "?2")
        _statements[is_postgres] = f"""
            SELECT {select_list(Conversation, "c")}, {select_list(InboundEvent, "e")},
                   {select_list(Application, "a")},
                   (SELECT COUNT(*) FROM (SELECT 1 FROM inbound_events
                                          WHERE user_id = {user} AND status = 'received'
                                          LIMIT 2) AS waiting) AS waiting
            FROM conversations AS c
            LEFT JOIN inbound_events AS e ON e.id = (
                SELECT MIN(id) FROM inbound_events WHERE user_id = {user} AND status = 'received')
            LEFT JOIN applications AS a ON a.id = c.active_application_id
            WHERE c.user_id = {person}""" + (" FOR UPDATE OF c" if is_postgres else "")
    return _statements[is_postgres]


async def open_turn(person_key: str, user_id: str, now: datetime, *,
                    exclusive: bool = False) -> TurnState:
    """Read (and on PostgreSQL lock) what the turn of `user_id` (an account) needs; the
    conversation is the person's (`person_key`), shared by their accounts on every channel.
    `exclusive` (SQLite): take the write lock before reading (bot/dispatcher.py says when)."""
    db = client()
    is_postgres = postgres(db)
    if exclusive and not is_postgres:
        await db.execute_query("UPDATE conversations SET version = version WHERE user_id = ?",
                               [person_key])
    sql = _statement(is_postgres)
    rows = await db.execute_query_dict(sql, [person_key, user_id])
    if not rows:
        try:
            await Conversation.create(user_id=person_key, pending={}, context={},
                                      updated_at=now, version=0)
        except IntegrityError as exc:  # created concurrently by another process
            raise ConcurrentUpdate(f"conversation {person_key}") from exc
        rows = await db.execute_query_dict(sql, [person_key, user_id])
    row = rows[0]
    return TurnState(conversation=from_row(Conversation, "c", row),
                     head=from_row(InboundEvent, "e", row), more=int(row["waiting"]) > 1,
                     application=from_row(Application, "a", row))
