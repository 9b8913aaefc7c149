"""A transaction's held writes as one statement on PostgreSQL.

Each statement is a round trip, and a round trip costs the turn's process ~100 µs of CPU on the
2-core machines measured (the socket's send and receive, the event loop, asyncpg), more than
most of the turn's own work. PostgreSQL runs data-modifying statements inside WITH, so the
held writes of a turn — its conversation, replies, event marked done and audit row — go as
one statement whose answer says how many rows each changed:

    WITH w0 AS (UPDATE conversations … RETURNING 1), w1 AS (INSERT INTO outbox … RETURNING 1), …
    SELECT (SELECT count(*) FROM w0) AS w0, (SELECT count(*) FROM w1) AS w1, …

The parts of such a statement all see the database as it was before it, and run in no defined
order; so it is used only when no two writes touch the same table (then neither order nor
seeing each other matters), and the writes otherwise go one by one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tortoise.backends.base.client import BaseDBAsyncClient

from storage.errors import ConcurrentUpdate

if TYPE_CHECKING:
    from storage.held_writes import Write

_TARGET = re.compile(r"\s*(?:INSERT\s+INTO|UPDATE)\s+(\w+)", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\$(\d+)")


def combinable(writes: Sequence[Write]) -> bool:
    """More than one write, each an INSERT or UPDATE, no two on the same table."""
    if len(writes) < 2:
        return False
    tables = []
    for write in writes:
        target = _TARGET.match(write.sql)
        if target is None or "RETURNING" in write.sql.upper():
            return False
        tables.append(target.group(1).lower())
    return len(set(tables)) == len(tables)


def combined(writes: Sequence[Write]) -> tuple[str, list[object]]:
    """The statement and its values: each write's placeholders renumbered after the ones
    before it."""
    parts, counts, values = [], [], []
    for n, write in enumerate(writes):
        offset = len(values)
        sql = _PLACEHOLDER.sub(lambda mark, o=offset: f"${int(mark.group(1)) + o}", write.sql)
        parts.append(f"w{n} AS ({sql} RETURNING 1)")
        counts.append(f"(SELECT count(*) FROM w{n}) AS w{n}")
        values.extend(write.values)
    return f"WITH {', '.join(parts)} SELECT {', '.join(counts)}", values


async def send_together(db: BaseDBAsyncClient, writes: Sequence[Write]) -> None:
    """`combinable` writes in one round trip; a write that changed other than the rows it
    expected raises `ConcurrentUpdate` (the transaction then rolls back)."""
    sql, values = combined(writes)
    row = (await db.execute_query_dict(sql, values))[0]
    for n, write in enumerate(writes):
        if write.expect is not None and row[f"w{n}"] != write.expect:
            raise ConcurrentUpdate(write.what)
