"""The outbox sender while PostgreSQL restarts: the bot's connections to it are cut and new ones
refused for a while (through a link the test cuts; the database server itself is shared). A
message the platform took is recorded as sent, once; the user's next messages wait for the
database, not for a claim's lease to run out."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.channels.base import DELIVERING
from bot.clock import FixedClock
from storage.models import OutboxMessage
from tests.bot.test_sender import FlakyChannel, queue, sender
from tests.conftest import PG_URL_ENV
from tests.fakes.database_link import DatabaseLink

pytestmark = pytest.mark.skipif(not os.environ.get(PG_URL_ENV),
                                reason="a database restart is played with PostgreSQL")


@pytest.fixture
async def link() -> AsyncIterator[DatabaseLink]:
    link = DatabaseLink(os.environ[PG_URL_ENV])
    await link.up()
    yield link
    await link.down()


@pytest.fixture
def database_url(tmp_path: Path, link: DatabaseLink) -> str:
    return link.url


class OutageAfterSend(FlakyChannel):
    """Takes the message, then the database goes away (right after the platform's answer);
    like WeCom's duplicate check, a repeat of the same outbox row is not delivered again."""

    def __init__(self, link: DatabaseLink, *, back_after: float | None) -> None:
        super().__init__()
        self.link = link
        self.back_after = back_after
        self.seen: set[int | None] = set()
        self.returning: asyncio.Task[None] | None = None

    async def send(self, user_id: str, payload: dict[str, Any]) -> None:
        if DELIVERING.get() in self.seen:
            return
        self.seen.add(DELIVERING.get())
        await super().send(user_id, payload)
        if len(self.seen) == 1:
            await self.link.down()
            if self.back_after is not None:
                self.returning = asyncio.create_task(self._back(self.back_after))

    async def _back(self, after: float) -> None:
        await asyncio.sleep(after)
        await self.link.up()


async def test_a_send_is_recorded_when_the_database_blinks_right_after(
        client: TestClient, clock: FixedClock, link: DatabaseLink) -> None:
    channel = OutageAfterSend(link, back_after=0.3)
    await queue(clock, "zhang_t", "第一条", "第二条")
    await sender(channel, clock).deliver_due()
    assert [text for _, text in channel.delivered] == ["第一条", "第二条"]
    assert {m.status for m in await OutboxMessage.all()} == {"sent"}


async def test_after_a_longer_outage_the_user_waits_for_the_database_not_a_lease(
        client: TestClient, clock: FixedClock, link: DatabaseLink) -> None:
    channel = OutageAfterSend(link, back_after=None)
    await queue(clock, "zhang_t", "第一条", "第二条")
    worker = sender(channel, clock)
    await worker.deliver_due()                  # the database stays away: the lane gives up
    assert [text for _, text in channel.delivered] == ["第一条"]
    await link.up()
    await worker.deliver_due()                  # at once, well within the claims' lease
    assert [text for _, text in channel.delivered] == ["第一条", "第二条"]
    assert {m.status for m in await OutboxMessage.all()} == {"sent"}
