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

It also sends the writes held for its COMMIT (storage/held_writes.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionContext
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)

from storage import sqlite_transaction
from storage.held_writes import holding, merged, run
from storage.sql import postgres

log = logging.getLogger("campusbot.storage")


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
            with holding(client) as writes:
                yield client
                sent = merged(writes, postgres(client))
                if isinstance(client, sqlite_transaction.OneHopTransaction):
                    await client.commit_with(sent)
                else:
                    await run(client, sent)
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
