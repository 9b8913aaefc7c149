"""A database transaction that a lost connection cannot poison.

Tortoise (1.1.x) switches the running task to the transaction's connection when a transaction
starts and switches back when it ends. When the connection dies at the wrong moment —
PostgreSQL restarting, `pg_terminate_backend` — it does not switch back: if BEGIN fails the
connection is never given back to the pool, and if the rollback fails the task keeps pointing
at a connection already given back. Every later query of that task then fails ("connection
has been released back to the pool"), which for a long-running task (the outbox sender, the
turn worker) means for ever, and five leaked connections empty the pool.

`transaction()` is `in_transaction()` plus the repair: whatever happens, the task's connection
is restored and a connection left checked out is returned to the pool (which replaces a broken
one). Measured in tests/bot/test_faults.py with connections cut every 0.7 s.

It also holds writes back for its COMMIT (`write`): a turn's last writes — its conversation,
its replies, its event marked done, its audit rows — nothing in the turn reads again. On
SQLite they go to the database's thread together with the COMMIT, in one trip
(storage/sqlite_transaction.py); on PostgreSQL as one statement just before it where they can
(storage/postgres_writes.py), else one after the other. A write
guarded by what it must change (`expect`) fails the transaction with `ConcurrentUpdate`, as
it would have when run at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionContext
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)

from storage import postgres_writes, sqlite_transaction
from storage.errors import ConcurrentUpdate

log = logging.getLogger("campusbot.storage")


@dataclass(frozen=True)
class Write:
    sql: str
    values: list[Any]
    #: the rows it must change, else the transaction fails (`ConcurrentUpdate`); None: any
    expect: int | None = None
    #: what changed meanwhile, for ConcurrentUpdate's message
    what: str = ""


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
    await _run(db, [statement])


async def _run(db: BaseDBAsyncClient, writes: Sequence[Write]) -> None:
    if db.capabilities.dialect == "postgres" and postgres_writes.combinable(writes):
        await postgres_writes.send_together(db, writes)
        return
    for statement in writes:
        changed, _ = await db.execute_query(statement.sql, statement.values)
        if statement.expect is not None and changed != statement.expect:
            raise ConcurrentUpdate(statement.what)


def _context(db: BaseDBAsyncClient) -> TransactionContext:
    if (isinstance(db, SqliteClient) and not isinstance(db, SqliteTransactionWrapper)
            and sqlite_transaction.AVAILABLE):
        return SqliteTransactionContext(sqlite_transaction.OneHopTransaction(db), db._lock)
    return db._in_transaction()   # what Tortoise's in_transaction() does


@contextlib.asynccontextmanager
async def transaction() -> AsyncIterator[BaseDBAsyncClient]:
    previous = connections.get("default")
    try:
        async with _context(previous) as client:
            writes: list[Write] = []
            token = _held.set((client, writes))
            try:
                yield client
                if isinstance(client, sqlite_transaction.OneHopTransaction):
                    await client.commit_with(writes)
                else:
                    await _run(client, writes)
            finally:
                _held.reset(token)
    finally:
        current = connections.get("default")
        if current is not previous:
            log.warning("database connection lost inside a transaction; restoring the task's "
                        "connection")
            await _give_back(current)
            connections.set("default", previous)


async def _give_back(client: Any) -> None:
    """Return a transaction's pooled connection if it is still checked out (asyncpg)."""
    pool = getattr(getattr(client, "_parent", None), "_pool", None)
    connection = getattr(client, "_connection", None)
    if pool is None or connection is None:
        return
    with contextlib.suppress(Exception):  # a broken connection is terminated and replaced
        await pool.release(connection)
