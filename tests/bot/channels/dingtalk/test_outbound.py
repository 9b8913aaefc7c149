"""Outbound over DingTalk's API: QPS-limit errors and flow control retried from the outbox,
every message arriving once; the access token shared by processes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import pytest

from bot.channels.base import DeliveryError
from bot.channels.dingtalk.channel import DingtalkChannel
from bot.channels.dingtalk.client import DingtalkClient
from bot.channels.dingtalk.settings import DingtalkSettings
from bot.clock import FixedClock
from flows.messages import Text
from storage import outbox
from storage.models import OutboxMessage
from tests.bot.channels.dingtalk.conftest import (
    ROBOT_CODE,
    Bot,
    dingtalk_section,
)
from tests.conftest import wipe_database
from tests.fakes.dingtalk import FakeDingtalk

USERS = [f"user{n:02d}" for n in range(12)]


async def queue_texts(bot: Bot, per_user: int) -> list[str]:
    sent = []
    for index in range(per_user):
        for user in USERS:
            text = f"第 {index + 1} 条通知（{user}）"
            await outbox.enqueue(channel="dingtalk", user_id=user, payload=Text(text).payload(),
                                 now=bot.clock.now())
            sent.append(text)
    return sent


async def deliver_everything(bot: Bot) -> None:
    for _ in range(200):
        await bot.sender.deliver_due()
        if not await OutboxMessage.filter(status__in=("pending", "sending")).exists():
            return
        bot.clock.advance(timedelta(seconds=400))   # past every retry delay
    raise AssertionError("the outbox never emptied")


async def test_every_message_arrives_once_under_30_percent_qps_errors(bot: Bot) -> None:
    bot.fake.qps_error_rate = 0.3
    sent = await queue_texts(bot, per_user=5)
    await deliver_everything(bot)
    assert bot.fake.qps_errors > 10
    delivered = [d.text for d in bot.fake.delivered]
    assert sorted(delivered) == sorted(sent)            # each once: none lost, none twice
    for user in USERS:                                  # and in order per person
        assert bot.fake.texts(user) == [t for t in sent if f"（{user}）" in t]
    assert await OutboxMessage.filter(status="sent").count() == len(sent)


async def test_a_timed_out_send_is_retried_and_arrives_once(bot: Bot) -> None:
    channel = bot.sender.channels["dingtalk"]
    assert isinstance(channel, DingtalkChannel)
    channel.client.timeout = aiohttp.ClientTimeout(total=0.3)
    bot.fake.hang["/v1.0/robot/oToMessages/batchSend"] = 2
    bot.fake.hang_seconds = 1.0
    await outbox.enqueue(channel="dingtalk", user_id="zhang_t",
                         payload=Text("您的申请已受理").payload(), now=bot.clock.now())
    await deliver_everything(bot)
    await asyncio.sleep(1.0)     # the hung calls end: they did nothing
    assert bot.fake.texts("zhang_t") == ["您的申请已受理"]
    assert (await OutboxMessage.get()).attempts >= 3


async def test_flow_controlled_users_get_their_message_later_once(bot: Bot) -> None:
    bot.fake.flow_controlled["zhang_t"] = 2
    await outbox.enqueue(channel="dingtalk", user_id="zhang_t",
                         payload=Text("您的申请已受理").payload(), now=bot.clock.now())
    await deliver_everything(bot)
    assert bot.fake.texts("zhang_t") == ["您的申请已受理"]
    assert bot.fake.count("/v1.0/robot/oToMessages/batchSend") == 3


async def test_one_call_never_names_more_than_20_users(bot: Bot) -> None:
    channel = bot.sender.channels["dingtalk"]
    assert isinstance(channel, DingtalkChannel)
    with pytest.raises(DeliveryError) as refused:
        await channel.batch_send([f"u{n}" for n in range(21)], "sampleText", {"content": "x"})
    assert not refused.value.retryable
    await channel.batch_send([f"u{n}" for n in range(20)], "sampleText", {"content": "全体"})
    assert len(bot.fake.delivered) == 20


async def test_processes_share_one_access_token(fake_dingtalk: FakeDingtalk, clock: FixedClock,
                                                database_url: str) -> None:
    from storage.db import close_db, init_db

    await wipe_database(database_url)
    await init_db(database_url)
    try:
        settings = DingtalkSettings(**dingtalk_section(fake_dingtalk.url))
        first, second = DingtalkClient(settings, clock), DingtalkClient(settings, clock)
        assert await first.tokens.get() == await second.tokens.get()
        assert fake_dingtalk.count("/v1.0/oauth2/accessToken") == 1
        fake_dingtalk.tokens.clear()                    # DingTalk revoked it
        await second.api("POST", "/v1.0/robot/oToMessages/batchSend", {
            "robotCode": ROBOT_CODE, "userIds": ["zhang_t"], "msgKey": "sampleText",
            "msgParam": '{"content": "hi"}'})
        assert fake_dingtalk.count("/v1.0/oauth2/accessToken") == 2
        await first.close()
        await second.close()
    finally:
        await close_db()
