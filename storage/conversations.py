"""Per-user conversation rows, locked for the length of a turn."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError

from storage.db import is_postgres
from storage.errors import ConcurrentUpdate
from storage.held_writes import Write, write
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
    await write(Write(_save_sql[is_postgres], [*_values(conversation, now), conversation.version],
                      expect=1, what=f"conversation {conversation.user_id}"))
    conversation.version += 1


#: PostgreSQL's types of `_SAVED` and the version read, for the VALUES of `save_conversations`
_PG_TYPES = ("int", "jsonb", "jsonb", "text", "text", "timestamptz", "int", "text", "int")
#: UPDATE … FROM came with SQLite 3.33; older libraries save the conversations one by one
_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33)


async def save_conversations(conversations: Sequence[Conversation], now: datetime) -> None:
    """`save_conversation` for several (distinct) conversations in one statement: all are
    written, or none when any of them changed since it was read (`ConcurrentUpdate`)."""
    db = client()
    is_postgres = postgres(db)
    if len(conversations) < 2 or not (is_postgres or _UPDATE_FROM):
        for conversation in conversations:
            await save_conversation(conversation, now)
        return
    width = len(_SAVED) + 1
    all_marks = marks(width * len(conversations), is_postgres)
    rows = []
    values: list[Any] = []
    for n, conversation in enumerate(conversations):
        row_marks = all_marks[n * width:(n + 1) * width]
        if is_postgres:
            row_marks = [f"{mark}::{kind}" for mark, kind in zip(row_marks, _PG_TYPES,
                                                                 strict=True)]
        rows.append(f"({', '.join(row_marks)})")
        values.extend(_values(conversation, now))
        values.append(conversation.version)
    # VALUES' columns are column1, column2 … on both databases (SQLite names no others); the
    # statement starts with UPDATE so that Tortoise reports the rows it changed
    column = {name: f"v.column{n}" for n, name in enumerate((*_SAVED, "read_version"), 1)}
    sets = ", ".join(f"{name} = {column[name]}" for name in _SAVED[:-1])
    await write(Write(
        f"UPDATE conversations SET {sets} FROM (VALUES {', '.join(rows)}) AS v "
        f"WHERE conversations.user_id = {column['user_id']} "
        f"AND conversations.version = {column['read_version']}", values,
        expect=len(conversations), what=f"one of {len(conversations)} conversations"))
    for conversation in conversations:
        conversation.version += 1


def _values(conversation: Conversation, now: datetime) -> list[Any]:
    return db_values(Conversation, _SAVED, {
        "active_application_id": conversation.active_application_id,
        "pending": conversation.pending, "context": conversation.context,
        "last_channel": conversation.last_channel, "greeted_on": conversation.greeted_on,
        "updated_at": now, "version": conversation.version + 1,
        "user_id": conversation.user_id})


async def last_channel_of(user_id: str) -> str | None:
    row = await Conversation.get_or_none(user_id=user_id).only("user_id", "last_channel")
    return row.last_channel if row else None
