"""Two real `campusbot serve` processes on one database behind the fake WeCom: every callback
that reaches both, at the same moment, has exactly one effect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from storage.db import close_db, init_db
from storage.models import InboundEvent, OutboxMessage
from tests.bot.channels.wecom.conftest import AES_KEY, TOKEN
from tests.conftest import wipe_database
from tests.fakes.wecom import FakeWecom
from tests.fakes.wecom_callbacks import WecomCallbacks
from tests.processes import processes, wecom_env

USERS = ["zhang_t", "li_dean", "hr_chen", "math_dean", "it_xu"]


@pytest.fixture
async def replicas(database_url: str,
                   live_wecom: FakeWecom) -> AsyncIterator[tuple[FakeWecom, list[str]]]:
    await wipe_database(database_url)
    with processes(database_url, wecom_env(live_wecom.url)) as started:  # type: ignore[attr-defined]
        yield live_wecom, [await started.serve(), await started.serve()]


async def test_callbacks_delivered_to_both_replicas_act_once(
        replicas: tuple[FakeWecom, list[str]], database_url: str) -> None:
    fake, urls = replicas
    callbacks = WecomCallbacks(fake, f"{urls[0]}/wecom/callback", token=TOKEN,
                               encoding_aes_key=AES_KEY)
    targets = [f"{url}/wecom/callback" for url in urls]
    try:
        messages = [callbacks.text_xml(user, "帮助") for user in USERS for _ in range(2)]
        results = await asyncio.gather(*(callbacks.deliver_concurrently(xml, targets * 2)
                                         for xml in messages))
        assert all(d.statuses == [200] for copies in results for d in copies)
    finally:
        await callbacks.close()
    await init_db(database_url)
    try:
        for _ in range(300):   # turns may retry on a busy database; the outbox loops then send
            if not await InboundEvent.exclude(status="done").count() and not (
                    await OutboxMessage.filter(status__in=["pending", "sending"]).count()):
                break
            await asyncio.sleep(0.05)
        assert await InboundEvent.all().count() == len(messages)
        assert await InboundEvent.exclude(status="done").count() == 0
    finally:
        await close_db()
    for user in USERS:
        assert len(fake.texts(user)) == 2, (user, fake.texts(user))   # one per message
