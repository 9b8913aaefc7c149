"""A message WeCom will never take (the member left) ends as a dead letter, and the IT office's
admins are told through WeCom, once; the user's later messages still arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest

from bot.clock import FixedClock
from bot.config import Settings
from storage import outbox
from storage.models import OutboxMessage
from tests.bot.channels.wecom.conftest import AES_KEY, TOKEN, Bot, start_bot, wecom_section
from tests.conftest import wipe_database
from tests.fakes.wecom import FakeWecom
from tests.fakes.wecom_callbacks import WecomCallbacks

ADMIN = "it_xu"


@pytest.fixture
async def bot_with_admin(settings_factory: Callable[..., Settings], clock: FixedClock,
                         database_url: str, fake_wecom: FakeWecom) -> AsyncIterator[Bot]:
    await wipe_database(database_url)
    settings = settings_factory(wecom=wecom_section(fake_wecom.url),  # type: ignore[attr-defined]
                                simulator={"enabled": False}, admin={"users": [ADMIN]},
                                directory={"allow_demo": True})
    app, client = await start_bot(settings, clock, fake_wecom)
    callbacks = WecomCallbacks(fake_wecom, str(client.make_url("/wecom/callback")),
                               token=TOKEN, encoding_aes_key=AES_KEY)
    try:
        yield Bot(app, client, callbacks, fake_wecom, clock)
    finally:
        await callbacks.close()
        await client.close()


async def test_a_message_to_a_member_who_left_is_a_dead_letter_and_the_admin_is_told(
        bot_with_admin: Bot) -> None:
    bot = bot_with_admin
    bot.fake.members.pop("zhang_t")                          # left the school: WeCom 81013
    for text in ("您的申请已提交", "下一步：部门负责人审批"):
        await outbox.enqueue(channel="wecom", user_id="zhang_t",
                             payload={"type": "text", "text": text}, now=bot.clock.now())
    await bot.settle()
    await bot.settle()                                       # the admin's notice goes out
    dead = await outbox.dead_letters()
    assert len(dead) == 2 and all("81013" in m.last_error for m in dead)
    notices = bot.fake.texts(ADMIN)
    assert len(notices) == 2
    assert all("zhang_t" in n and "campusbot outbox dead" in n for n in notices)
    assert f"编号 {dead[-1].id}" in notices[0]               # oldest first
    assert not any("您的申请已提交" in n for n in notices)   # what was said stays private
    await bot.settle()
    assert len(bot.fake.texts(ADMIN)) == 2                   # told once


@pytest.mark.parametrize("errcode", [40058, 45002])     # invalid parameter, content too long
async def test_content_wecom_refuses_is_a_dead_letter_at_once_and_the_rest_goes_on(
        bot_with_admin: Bot, errcode: int) -> None:
    bot = bot_with_admin
    bot.fake.fault("message/send", errcode=errcode, match="内容有误")
    for text in ("内容有误的通知", "您的申请已提交"):
        await outbox.enqueue(channel="wecom", user_id="zhang_t",
                             payload={"type": "text", "text": text}, now=bot.clock.now())
    await bot.settle()
    await bot.settle()
    dead = await outbox.dead_letters()
    assert [(m.attempts, str(errcode) in m.last_error) for m in dead] == [(1, True)]
    assert bot.fake.texts("zhang_t") == ["您的申请已提交"]
    assert len(bot.fake.texts(ADMIN)) == 1 and f"编号 {dead[0].id}" in bot.fake.texts(ADMIN)[0]


async def test_a_notice_the_admin_cannot_receive_is_not_reported_in_a_loop(
        bot_with_admin: Bot) -> None:
    bot = bot_with_admin
    bot.fake.members.pop("zhang_t")
    bot.fake.members.pop(ADMIN)                              # the admin cannot be reached either
    await outbox.enqueue(channel="wecom", user_id="zhang_t",
                         payload={"type": "text", "text": "通知"}, now=bot.clock.now())
    for _ in range(3):
        await bot.settle()
    assert await OutboxMessage.filter(status="failed").count() == 2
    assert await OutboxMessage.filter(status__in=["pending", "sending"]).count() == 0


@pytest.mark.parametrize("fault", [{"errcode": -1}, {"errcode": 45009}, {"http_status": 502},
                                   {"errcode": 42001}])
async def test_a_busy_platform_never_makes_a_dead_letter(bot_with_admin: Bot,
                                                         fault: dict) -> None:
    bot = bot_with_admin
    bot.fake.fault("message/send", times=40, **fault)        # far beyond max_attempts (8)
    await outbox.enqueue(channel="wecom", user_id="zhang_t",
                         payload={"type": "text", "text": "您的申请已提交"}, now=bot.clock.now())
    for _ in range(45):
        await bot.settle()
        bot.clock.advance(timedelta(minutes=7))
    assert await outbox.dead_letters() == []
    assert bot.fake.texts("zhang_t") == ["您的申请已提交"] and bot.fake.texts(ADMIN) == []
