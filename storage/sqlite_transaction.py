"""SQLite's transaction in fewer trips to its thread.

aiosqlite runs every call in the connection's own thread; a call costs ~100 µs of CPU on the
2-core machines measured (queue hand-over, thread wake-up, the loop woken through its pipe),
some 25 times what a turn's small statement costs SQLite itself (docs/benchmarks.md,
"Fewer trips to SQLite's thread"). Tortoise's transaction takes two such trips to begin (a
COMMIT in case one is open, then BEGIN) and one per statement. `OneHopTransaction` begins in
one, and `commit_with` sends the transaction's held writes (storage/held_writes.py) and its
COMMIT in one: a dialog turn went from nine trips to four.

It reaches into aiosqlite's `Connection._execute` (queue a function for the connection's
thread), the one call that runs more than one statement per trip; aiosqlite has had it in
every release, and `storage/transactions.py` falls back to Tortoise's own transaction when it
is missing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

import aiosqlite
from tortoise.backends.sqlite.client import SqliteTransactionWrapper, translate_exceptions
from tortoise.exceptions import TransactionManagementError

from storage.errors import ConcurrentUpdate

if TYPE_CHECKING:
    from storage.held_writes import Write

#: aiosqlite queues functions for its thread through this (see the module's docstring)
AVAILABLE = callable(getattr(aiosqlite.Connection, "_execute", None))


def _begin(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:   # as Tortoise does: nothing left open from before
        connection.commit()
    connection.execute("BEGIN")


def _write_and_commit(connection: sqlite3.Connection, writes: Sequence[Write]) -> Write | None:
    """In the connection's thread: each write, then COMMIT; the first write that changed
    other than the rows it expected (all rolled back then), else None."""
    try:
        for write in writes:
            before = connection.total_changes
            connection.execute(write.sql, write.values)
            if write.expect is not None and connection.total_changes - before != write.expect:
                connection.rollback()
                return write
        connection.commit()
    except BaseException:
        if connection.in_transaction:
            connection.rollback()
        raise
    return None


class OneHopTransaction(SqliteTransactionWrapper):
    """Tortoise's SQLite transaction, begun in one trip and committed with its writes in
    one."""

    async def begin(self) -> None:
        try:
            await self._connection._execute(_begin, self._connection._conn)
        except sqlite3.OperationalError as exc:
            raise TransactionManagementError(exc) from exc

    @translate_exceptions
    async def commit_with(self, writes: Sequence[Write]) -> None:
        """Run `writes` and COMMIT in one trip. A write that did not change the rows it
        expected rolls everything back (`ConcurrentUpdate`), as any error does."""
        if self._finalized:
            raise TransactionManagementError("Transaction already finalised")
        try:
            failed = await self._connection._execute(_write_and_commit,
                                                     self._connection._conn, writes)
        finally:
            self._finalized = True   # committed or rolled back: Tortoise must not do either
        if failed is not None:
            raise ConcurrentUpdate(failed.what)
