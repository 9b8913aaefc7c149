"""Per-user conversation rows, locked for the length of a turn."""

from __future__ import annotations

from datetime import datetime

from tortoise import connections
from tortoise.exceptions import IntegrityError

from storage.db import is_postgres
from storage.errors import ConcurrentUpdate
from storage.models import Conversation
from storage.sql import client, db_values, marks, postgres


async def lock_conversation(user_id: str, now: datetime, *,
                            exclusive: bool = False) -> Conversation:
    """Load (creating if needed) the user's conversation inside the current transaction.

    On PostgreSQL the row stays locked until the transaction ends, so a second replica's turn for
    the same user waits. On SQLite the write lock plus the version check give the same effect.
    """
    query = Conversation.filter(user_id=user_id)
    if is_postgres():
        query = query.select_for_update()
    elif exclusive:  # SQLite: the write lock before any read (bot/dispatcher.py says when)
        await connections.get("default").execute_query(
            "UPDATE conversations SET version = version WHERE user_id = ?", [user_id])
    conversation = await query.first()
    if conversation is None:
        try:
            conversation = await Conversation.create(user_id=user_id, pending={}, context={},
                                                     updated_at=now, version=0)
        except IntegrityError as exc:  # created concurrently by another process
            raise ConcurrentUpdate(f"conversation {user_id}") from exc
    return conversation


_SAVED = ("active_application_id", "pending", "context", "last_channel", "greeted_on",
          "updated_at", "version", "user_id")
_save_sql: dict[bool, str] = {}


async def save_conversation(conversation: Conversation, now: datetime) -> None:
    """Write the conversation if nobody changed it since it was read (its version)."""
    db = client()
    is_postgres = postgres(db)
    if is_postgres not in _save_sql:
        m = marks(len(_SAVED) + 1, is_postgres)
        sets = ", ".join(f"{name} = {mark}" for name, mark in zip(_SAVED[:-1], m, strict=False))
        _save_sql[is_postgres] = (f"UPDATE conversations SET {sets} WHERE user_id = {m[-2]} "
                                  f"AND version = {m[-1]}")
    values = db_values(Conversation, _SAVED, {
        "active_application_id": conversation.active_application_id,
        "pending": conversation.pending, "context": conversation.context,
        "last_channel": conversation.last_channel, "greeted_on": conversation.greeted_on,
        "updated_at": now, "version": conversation.version + 1,
        "user_id": conversation.user_id})
    changed, _ = await db.execute_query(_save_sql[is_postgres], [*values, conversation.version])
    if changed != 1:
        raise ConcurrentUpdate(f"conversation {conversation.user_id}")
    conversation.version += 1


async def last_channel_of(user_id: str) -> str | None:
    row = await Conversation.get_or_none(user_id=user_id).only("user_id", "last_channel")
    return row.last_channel if row else None
