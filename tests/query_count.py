"""Counting what a piece of code asks the database: every statement and every transaction
command (BEGIN, COMMIT, savepoints) sent through Tortoise's clients, SQLite and PostgreSQL.

    with count_queries() as counted:
        await dispatcher.process(accepted)
    counted.statements      # SELECT / INSERT / UPDATE / DELETE …
    counted.transaction     # BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE
    counted.round_trips     # both, less those sent together (writes held for a COMMIT on
                            # SQLite go with it: storage/sqlite_transaction.py)
    counted.sql             # the statements' text, in order (transaction commands as <begin>…)

Used by the tests (the per-turn query budget) and benchmarks/turn.py; the product never
imports it. It wraps the client classes' methods while the block runs, so it counts the
statements of every task of the process, not only the caller's.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper

from storage import postgres_writes
from storage.sqlite_transaction import OneHopTransaction

STATEMENT_METHODS = ("execute_query", "execute_query_dict", "execute_insert", "execute_many",
                     "execute_script")
TRANSACTION_METHODS = ("begin", "commit", "rollback", "savepoint", "release_savepoint",
                       "savepoint_rollback")


@dataclass
class Counted:
    statements: int = 0
    transaction: int = 0
    #: statements that travelled with a transaction command
    along: int = 0
    sql: list[str] = field(default_factory=list)

    @property
    def round_trips(self) -> int:
        return self.statements + self.transaction - self.along

    @property
    def events_marked_done(self) -> int:
        """Statements marking inbound events done: one per transaction that ran turns."""
        return sum(q.startswith("UPDATE inbound_events SET status = 'done'") for q in self.sql)

    def reset(self) -> None:
        self.statements = self.transaction = self.along = 0
        self.sql.clear()


def _client_classes() -> list[type]:
    classes: list[type] = [SqliteClient, SqliteTransactionWrapper, OneHopTransaction]
    try:
        from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
    except ImportError:  # asyncpg not installed
        return classes
    return [*classes, AsyncpgDBClient, TransactionWrapper]


_active: list[Counted] = []
#: inside a counted call of this task: a method calling another (inherited) one counts once
_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("inside", default=False)


def _wrap(method: Callable[..., Any], kind: str) -> Callable[..., Any]:
    @functools.wraps(method)
    async def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _inside.get():
            for counted in _active:
                if kind == "commit_with":   # the held writes, then COMMIT, in one trip
                    writes = args[0]
                    counted.statements += len(writes)
                    counted.along += len(writes)
                    counted.transaction += 1
                    counted.sql.extend([*(w.sql for w in writes), "<commit>"])
                elif kind == "together":    # the held writes as one statement (PostgreSQL)
                    writes = args[0]
                    counted.statements += len(writes)
                    counted.along += len(writes) - 1
                    counted.sql.extend(["<together>", *(w.sql for w in writes)])
                elif kind == "statement":
                    counted.statements += 1
                    counted.sql.append(str(args[0]) if args else "")
                else:
                    counted.transaction += 1
                    counted.sql.append(f"<{method.__name__}>")
        token = _inside.set(True)
        try:
            return await method(self, *args, **kwargs)
        finally:
            _inside.reset(token)
    return counting


@contextlib.contextmanager
def count_queries() -> Iterator[Counted]:
    counted = Counted()
    patched: list[tuple[object, str, Any]] = []
    if not _active:
        for cls in _client_classes():
            for name, kind in ([(n, "statement") for n in STATEMENT_METHODS]
                               + [(n, "transaction") for n in TRANSACTION_METHODS]
                               + [("commit_with", "commit_with")]):
                if name in cls.__dict__:
                    patched.append((cls, name, cls.__dict__[name]))
                    setattr(cls, name, _wrap(cls.__dict__[name], kind))
        original_together = postgres_writes.send_together
        patched.append((postgres_writes, "send_together", original_together))
        postgres_writes.send_together = _wrap(original_together, "together")
    _active.append(counted)
    try:
        yield counted
    finally:
        _active.remove(counted)
        for owner, name, original in patched:
            setattr(owner, name, original)
