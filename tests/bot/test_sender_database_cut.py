"""A message the platform has taken is never sent again because the database went away just
then: recording it as sent is retried until the database is back (PostgreSQL restarting,
connections cut by an administrator)."""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from aiohttp.test_utils import TestClient

from bot.clock import FixedClock
from bot.sender import OutboxSender
from storage import outbox
from storage.models import OutboxMessage
from tests.conftest import PG_URL_ENV

pytestmark = pytest.mark.skipif(not os.environ.get(PG_URL_ENV),
                                reason="cutting database connections needs PostgreSQL")


class PlatformThenRestart:
    """A platform that takes each message, and right after, every database connection of the
    bot is terminated, as a PostgreSQL restart does."""

    name = "cut"
    pushes = True

    def __init__(self, admin: asyncpg.Connection) -> None:
        self.admin = admin
        self.delivered: list[tuple[str, str]] = []
        self.cuts = 0

    async def send(self, user_id: str, payload: dict[str, Any]) -> None:
        self.delivered.append((user_id, payload["text"]))
        self.cuts += await self.admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")


async def test_a_sent_message_is_not_sent_again_when_the_database_restarts_right_after(
        client: TestClient, clock: FixedClock) -> None:
    url = os.environ[PG_URL_ENV].replace("postgres://", "postgresql://", 1)
    admin = await asyncpg.connect(url)
    try:
        platform = PlatformThenRestart(admin)
        await outbox.enqueue(channel="cut", user_id="zhang_t",
                             payload={"type": "text", "text": "已提交，编号 #1"}, now=clock.now())
        await outbox.enqueue(channel="cut", user_id="zhang_t",
                             payload={"type": "text", "text": "李院长已同意"}, now=clock.now())
        sender = OutboxSender({"cut": platform}, clock, max_attempts=5, per_user_per_minute=30)
        for _ in range(6):          # later rounds, after every claim has expired
            with contextlib.suppress(Exception):   # a claim that met a cut connection
                await sender.deliver_due()
            clock.advance(outbox.LEASE + timedelta(seconds=1))
    finally:
        await admin.close()
    assert platform.cuts >= 2                      # the connections were really cut, each time
    assert platform.delivered == [("zhang_t", "已提交，编号 #1"), ("zhang_t", "李院长已同意")]
    assert await OutboxMessage.filter(status="sent").count() == 2
