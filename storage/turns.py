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

`open_turns` reads the same for a batch of users (several users' turns in one transaction) in
one statement, their conversations locked in the order of their keys, so that two batches
never wait for each other's locks in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from storage.errors import ConcurrentUpdate
from storage.models import Application, Conversation, InboundEvent
from storage.sql import (
    client,
    db_values,
    from_row,
    marks,
    postgres,
    select_list,
    value_rows,
)


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


_batch_statements: dict[tuple[bool, int], str] = {}


def _batch_statement(is_postgres: bool, users: int) -> str:
    if (is_postgres, users) not in _batch_statements:
        cast = "::text" if is_postgres else ""
        pairs = ", ".join(f"({a}{cast}, {b}{cast})" for a, b in zip(
            *[iter(marks(2 * users, is_postgres))] * 2, strict=True))
        _batch_statements[is_postgres, users] = f"""
            WITH wanted (person, account) AS (VALUES {pairs})
            SELECT w.account AS account, {select_list(Conversation, "c")},
                   {select_list(InboundEvent, "e")}, {select_list(Application, "a")},
                   (SELECT COUNT(*) FROM (SELECT 1 FROM inbound_events
                                          WHERE user_id = w.account AND status = 'received'
                                          LIMIT 2) AS waiting) AS waiting
            FROM wanted AS w
            JOIN conversations AS c ON c.user_id = w.person
            LEFT JOIN inbound_events AS e ON e.id = (
                SELECT MIN(id) FROM inbound_events
                WHERE user_id = w.account AND status = 'received')
            LEFT JOIN applications AS a ON a.id = c.active_application_id
            ORDER BY c.user_id""" + (" FOR UPDATE OF c" if is_postgres else "")
    return _batch_statements[is_postgres, users]


async def open_turns(users: list[tuple[str, str]], now: datetime) -> dict[str, TurnState]:
    """`open_turn` for several (person key, account) pairs with distinct person keys, in one
    statement: the states by account. Conversations that do not exist yet are created in one
    more statement (another process creating one meanwhile is fine) and read in a third."""
    if not users:
        return {}
    states = await _read(users)
    missing = [(person, account) for person, account in users if account not in states]
    if missing:
        await _create_conversations([person for person, _ in missing], now)
        states.update(await _read(missing))
    return states


async def _read(users: list[tuple[str, str]]) -> dict[str, TurnState]:
    db = client()
    rows = await db.execute_query_dict(_batch_statement(postgres(db), len(users)),
                                       [value for pair in users for value in pair])
    return {row["account"]: _state(row) for row in rows}


_NEW_CONVERSATION = ("user_id", "pending", "context", "updated_at", "version")


async def _create_conversations(people: list[str], now: datetime) -> None:
    db = client()
    is_postgres = postgres(db)
    values = [value for person in people for value in db_values(
        Conversation, _NEW_CONVERSATION,
        {"user_id": person, "pending": {}, "context": {}, "updated_at": now, "version": 0})]
    rows = value_rows(len(_NEW_CONVERSATION), len(people), is_postgres)
    await db.execute_query(f"INSERT INTO conversations ({', '.join(_NEW_CONVERSATION)}) "
                           f"VALUES {rows} ON CONFLICT (user_id) DO NOTHING", values)


def _state(row: dict[str, Any]) -> TurnState:
    return TurnState(conversation=from_row(Conversation, "c", row),
                     head=from_row(InboundEvent, "e", row), more=int(row["waiting"]) > 1,
                     application=from_row(Application, "a", row))


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
    return _state(rows[0])
