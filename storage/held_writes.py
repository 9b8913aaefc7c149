"""Writes held for a transaction's COMMIT.

A turn's last writes — its conversation, its replies, its event marked done, its audit rows —
are nothing the turn reads again, so `transaction()` (storage/transactions.py) holds them and
sends them at its end: on SQLite with the COMMIT in one trip to the database's thread
(storage/sqlite_transaction.py), on PostgreSQL as one statement just before it where they can
be (storage/postgres_writes.py), else one after the other. A write guarded by what it must
change (`expect`) fails the transaction with `ConcurrentUpdate`, as it would have at once.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from storage import postgres_writes
from storage.errors import ConcurrentUpdate
from storage.sql import marks, postgres, value_rows


@dataclass(frozen=True)
class Write:
    sql: str
    values: list[Any]
    #: the rows it must change, else the transaction fails (`ConcurrentUpdate`); None: any
    expect: int | None = None
    #: what changed meanwhile, for ConcurrentUpdate's message
    what: str = ""
    #: (table, columns) of a plain one-row INSERT (`insert_row`): the held ones of a table go
    #: as one multi-row INSERT, in the order written
    row_of: tuple[str, tuple[str, ...]] | None = None


def insert_row(table: str, columns: Sequence[str], values: list[Any]) -> Write:
    """A one-row INSERT that the transaction may send together with others of its table."""
    m = marks(len(columns), postgres(connections.get("default")))
    return Write(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(m)})", values,
                 row_of=(table, tuple(columns)))


#: values in one merged INSERT at most (SQLite before 3.32 allowed 999)
MAX_VALUES = 999


def merged(writes: Sequence[Write], is_postgres: bool) -> list[Write]:
    """`writes` with each table's one-row INSERTs as one multi-row INSERT (where the first of
    them stood: held writes never depend on each other across tables)."""
    groups: dict[tuple[str, tuple[str, ...]], list[Write]] = {}
    for statement in writes:
        if statement.row_of is not None:
            groups.setdefault(statement.row_of, []).append(statement)
    groups = {key: group for key, group in groups.items()
              if len(group) > 1 and len(group) * len(key[1]) <= MAX_VALUES}
    if not groups:
        return list(writes)
    merged: list[Write] = []
    for statement in writes:
        group = groups.get(statement.row_of) if statement.row_of is not None else None
        if group is None:
            merged.append(statement)
        elif group[0] is statement:   # rows of a multi-row INSERT get ids in the order listed
            table, columns = statement.row_of  # type: ignore[misc]
            rows = value_rows(len(columns), len(group), is_postgres)
            merged.append(Write(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {rows}",
                                [value for row in group for value in row.values]))
    return merged


#: the innermost `transaction()` of this task: its connection and the writes held for COMMIT
_held: contextvars.ContextVar[tuple[BaseDBAsyncClient, list[Write]] | None] = (
    contextvars.ContextVar("held_writes", default=None))


async def write(statement: Write) -> None:
    """Run `statement` with the COMMIT of the `transaction()` it is in, or now outside one
    (or inside a savepoint of Tortoise's own: that one may roll back alone)."""
    held = _held.get()
    db = connections.get("default")
    if held is not None and held[0] is db:
        held[1].append(statement)
        return
    await run(db, [statement])


async def run(db: BaseDBAsyncClient, writes: Sequence[Write]) -> None:
    if db.capabilities.dialect == "postgres" and postgres_writes.combinable(writes):
        await postgres_writes.send_together(db, writes)
        return
    for statement in writes:
        changed, _ = await db.execute_query(statement.sql, statement.values)
        if statement.expect is not None and changed != statement.expect:
            raise ConcurrentUpdate(statement.what)


@contextlib.contextmanager
def holding(client: BaseDBAsyncClient) -> Iterator[list[Write]]:
    """Hold the writes made through `client` (a transaction's) in the list yielded."""
    writes: list[Write] = []
    token = _held.set((client, writes))
    try:
        yield writes
    finally:
        _held.reset(token)
