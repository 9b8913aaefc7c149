"""Storage errors the turn runner reacts to."""

from __future__ import annotations

from asyncpg import exceptions as pg
from tortoise.exceptions import DBConnectionError, OperationalError, TransactionManagementError


class ConcurrentUpdate(Exception):
    """A row changed since it was read (optimistic version check failed); retry the turn."""


#: the database cannot be reached right now (PostgreSQL restarting, a connection cut): the
#: work is retried after a pause; nothing was written
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,                          # connection refused / reset (includes ConnectionError)
    DBConnectionError,
    pg.PostgresConnectionError,       # the connection was closed in the middle of a query
    pg.OperatorInterventionError,     # terminated by the administrator, server shutting down
    pg.InterfaceError,                # the pool's connection is no longer usable
)

#: worth running the whole turn again: a concurrent update, SQLite's "database is locked", a
#: transaction broken by a lost connection, or the database briefly unavailable
RETRY_TURN: tuple[type[BaseException], ...] = (
    ConcurrentUpdate, OperationalError, TransactionManagementError, *DATABASE_UNAVAILABLE)
