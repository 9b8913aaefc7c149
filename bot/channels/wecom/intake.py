"""Stores accepted callbacks with group commit: one INSERT for every callback that arrived
while the previous INSERT was in flight.

Storing the event is the one piece of the callback that must wait for the database, and a
commit costs a disk flush (SQLite) or a round trip and a flush (PostgreSQL) — about 0.7–0.9 ms
measured, against 0.06 ms for everything else the callback does. One `InboundEvent.create`
per callback therefore capped the callback at ~1,000 a second on a single connection and let
100 concurrent senders queue for 200 ms (docs/benchmarks.md). Batched, the flush is shared.

Same contract as `Dispatcher.accept`: an `Accepted` per new (channel, dedupe key), None for a
duplicate
— decided by the database's unique key (`ON CONFLICT DO NOTHING RETURNING`), so copies of one
callback arriving at two replicas at once still have one effect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import connections

from bot.clock import Clock
from bot.dispatcher import Accepted
from flows.incoming import Incoming
from storage.models import InboundEvent

MAX_BATCH = 100
#: a callback arriving within this many seconds counts as "callbacks are arriving"
RECENT = 0.003
COLUMNS = ("channel", "dedupe_key", "user_id", "payload", "status", "attempts", "received_at")


@dataclass
class _Pending:
    incoming: Incoming
    future: asyncio.Future[Accepted | None]


class Intake:
    def __init__(self, clock: Clock, *, on_late: Callable[[Accepted], None],
                 max_batch: int = MAX_BATCH) -> None:
        self.clock = clock
        #: for a row stored after its caller gave up waiting (and answered 503)
        self.on_late = on_late
        self.max_batch = max_batch
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._last_arrival = float("-inf")

    def busy(self) -> bool:
        """Callbacks are arriving or being stored right now."""
        flushing = self._flusher is not None and not self._flusher.done()
        return flushing or bool(self._queue) or (
            asyncio.get_running_loop().time() - self._last_arrival < RECENT)

    async def store(self, incoming: Incoming) -> Accepted | None:
        """The stored event, or None when this (channel, dedupe key) was stored before."""
        loop = asyncio.get_running_loop()
        self._last_arrival = loop.time()
        future: asyncio.Future[Accepted | None] = loop.create_future()
        self._queue.append(_Pending(incoming, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="wecom-intake")
        return await future

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            try:
                stored = await self._insert(batch)
            except Exception as exc:  # every caller answers 503 and WeCom delivers again
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                continue
            for pending, event in zip(batch, stored, strict=True):
                if not pending.future.done():
                    pending.future.set_result(event)
                elif event is not None:
                    self.on_late(event)

    async def _insert(self, batch: list[_Pending]) -> list[Accepted | None]:
        now = self.clock.now()
        first: dict[tuple[str, str], int] = {}
        for index, pending in enumerate(batch):
            first.setdefault(_key(pending.incoming), index)
        ids = await _insert_rows(connections.get("default"),
                                 [batch[index].incoming for index in first.values()], now)
        accepted: list[Accepted | None] = []
        for index, pending in enumerate(batch):
            key = _key(pending.incoming)
            row_id = ids.get(key) if first[key] == index else None
            accepted.append(None if row_id is None else Accepted(row_id, pending.incoming))
        return accepted


def _key(incoming: Incoming) -> tuple[str, str]:
    return incoming.channel, incoming.dedupe_key[:255]


async def _insert_rows(client: Any, rows: list[Incoming],
                       now: datetime) -> dict[tuple[str, str], int]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING: the ids of the rows that were new."""
    fields = InboundEvent._meta.fields_map
    values: list[Any] = []
    for incoming in rows:
        row = {"channel": incoming.channel, "dedupe_key": incoming.dedupe_key[:255],
               "user_id": incoming.user_id, "payload": incoming.payload(),
               "status": "received", "attempts": 0, "received_at": now}
        values.extend(fields[name].to_db_value(row[name], InboundEvent) for name in COLUMNS)
    postgres = client.capabilities.dialect == "postgres"
    width = len(COLUMNS)
    groups = []
    for row_index in range(len(rows)):
        marks = [f"${row_index * width + n + 1}" if postgres else "?" for n in range(width)]
        groups.append("(" + ", ".join(marks) + ")")
    table = InboundEvent._meta.db_table
    sql = (f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES {', '.join(groups)} "
           "ON CONFLICT (channel, dedupe_key) DO NOTHING RETURNING id, channel, dedupe_key")
    returned = await client.execute_query_dict(sql, values)  # execute_query drops RETURNING rows
    return {(row["channel"], row["dedupe_key"]): int(row["id"]) for row in returned}
