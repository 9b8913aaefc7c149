"""WeCom delivers at least once: retries, duplicates and concurrent copies of one callback
have exactly one effect, the answer never waits for the turn, and nothing accepted is lost."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest

from bot import keys
from bot.channels.wecom import callback as callback_module
from bot.clock import FixedClock
from bot.config import Settings
from storage.db import close_db, init_db
from storage.models import InboundEvent, OutboxMessage
from tests.bot.channels.wecom.conftest import AES_KEY, TOKEN, Bot, start_bot
from tests.conftest import wipe_database
from tests.failing import fail_first
from tests.fakes.wecom import FakeWecom
from tests.fakes.wecom_callbacks import WecomCallbacks

TEACHER = "zhang_t"


async def test_a_redelivery_after_a_lost_answer_has_one_effect(bot: Bot) -> None:
    delivery = await bot.wecom.text(TEACHER, "帮助", lose_answers=2)
    assert delivery.statuses == [200, 200, 200]         # WeCom thought it failed twice
    await bot.settle()
    assert len(bot.fake.texts(TEACHER)) == 1
    assert await InboundEvent.all().count() == 1


async def test_the_same_message_delivered_concurrently_has_one_effect(bot: Bot) -> None:
    xml = bot.wecom.text_xml(TEACHER, "帮助")
    deliveries = await bot.wecom.deliver_concurrently(xml, [bot.wecom.url] * 5)
    assert all(d.statuses == [200] for d in deliveries)
    await bot.settle()
    assert len(bot.fake.texts(TEACHER)) == 1


async def test_a_tap_delivered_twice_decides_once(bot: Bot) -> None:
    from tests.bot.channels.wecom.test_approval import HEAD, fill_leave, only_card
    await fill_leave(bot, "2")
    card = only_card(bot, HEAD)
    tap = bot.wecom.tap_xml(HEAD, card.task_id, "approve")
    await asyncio.gather(bot.wecom.deliver(tap), bot.wecom.deliver(tap, lose_answers=1))
    await bot.settle()
    assert sum("已同意编号" in t for t in bot.fake.texts(HEAD)) == 1
    assert sum("李院长已同意" in t for t in bot.fake.texts(TEACHER)) == 1
    assert not any("无需重复操作" in t for t in bot.fake.texts(HEAD))


async def test_wecom_retries_when_the_event_cannot_be_stored(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_first(monkeypatch, bot.app[keys.DISPATCHER].intake.commit, "_insert",
               [RuntimeError("database unavailable")])
    delivery = await bot.wecom.text(TEACHER, "帮助")
    assert delivery.statuses == [503, 200]
    await bot.settle()
    assert len(bot.fake.texts(TEACHER)) == 1


async def test_a_slow_database_still_gets_an_answer_in_time_and_loses_nothing(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(callback_module, "ACCEPT_DEADLINE", 0.3)
    intake = bot.app[keys.DISPATCHER].intake.commit
    insert = intake._insert
    slow = [1.0]

    async def slow_once(batch: Any) -> Any:
        if slow:
            await asyncio.sleep(slow.pop())
        return await insert(batch)
    monkeypatch.setattr(intake, "_insert", slow_once)
    delivery = await bot.wecom.text(TEACHER, "帮助")
    assert delivery.statuses[0] == 503 and delivery.accepted   # answered in time, delivered again
    await bot.settle()
    assert len(bot.fake.texts(TEACHER)) == 1      # the late row ran; the retry was a duplicate
    assert await InboundEvent.filter(status="done").count() == 1


async def test_the_answer_does_not_wait_for_the_turn(bot: Bot,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    dispatcher = bot.app[keys.DISPATCHER]
    process = dispatcher.process
    gate = asyncio.Event()

    async def held(event: Any) -> Any:
        await gate.wait()
        return await process(event)
    monkeypatch.setattr(dispatcher, "process", held)
    started = time.perf_counter()
    delivery = await bot.wecom.text(TEACHER, "帮助")
    assert delivery.statuses == [200]
    assert time.perf_counter() - started < 1.0
    assert len(bot.app[keys.DISPATCHER].intake.turns) == 1 and bot.fake.texts(TEACHER) == []
    gate.set()
    await bot.settle()
    assert len(bot.fake.texts(TEACHER)) == 1


async def test_an_event_stored_by_a_process_that_died_is_replayed(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.app[keys.DISPATCHER].intake, "schedule", lambda event: None)
    assert (await bot.wecom.text(TEACHER, "帮助")).statuses == [200]
    await bot.settle()
    assert bot.fake.texts(TEACHER) == []          # stored, never processed
    bot.clock.advance(timedelta(seconds=31))
    assert await bot.app[keys.JOBS].replay_unprocessed() == 1
    await bot.settle()
    assert len(bot.fake.texts(TEACHER)) == 1


async def test_shutdown_waits_for_running_turns(wecom_settings: Settings, clock: FixedClock,
                                                database_url: str, fake_wecom: FakeWecom) -> None:
    await wipe_database(database_url)
    _, client = await start_bot(wecom_settings, clock, fake_wecom)
    callbacks = WecomCallbacks(fake_wecom, str(client.make_url("/wecom/callback")),
                               token=TOKEN, encoding_aes_key=AES_KEY)
    try:
        for text in ("帮助", "我要请假", "我的申请"):
            assert (await callbacks.text(TEACHER, text)).statuses == [200]
    finally:
        await callbacks.close()
        await client.close()                      # runs the cleanup: drains the turns
    await init_db(wecom_settings.database.url)
    try:
        assert await InboundEvent.filter(status="done").count() == 3
        assert await OutboxMessage.filter(user_id=TEACHER).count() >= 3   # nothing lost
    finally:
        await close_db()


async def test_nothing_is_lost_across_a_restart(wecom_settings: Settings, clock: FixedClock,
                                                database_url: str,
                                                fake_wecom: FakeWecom) -> None:
    """Replies queued when the server stops are delivered by the next one."""
    await wipe_database(database_url)
    app, client = await start_bot(wecom_settings, clock, fake_wecom)
    callbacks = WecomCallbacks(fake_wecom, str(client.make_url("/wecom/callback")),
                               token=TOKEN, encoding_aes_key=AES_KEY)
    try:
        await callbacks.text(TEACHER, "帮助")
        await app[keys.DISPATCHER].intake.idle()
    finally:
        await client.close()                       # stopped before the outbox was sent
    assert fake_wecom.texts(TEACHER) == []
    app, client = await start_bot(wecom_settings, clock, fake_wecom)
    try:
        await app[keys.SENDER].deliver_due()
        assert len(fake_wecom.texts(TEACHER)) == 1
    finally:
        await callbacks.close()
        await client.close()


async def test_a_turn_the_recovery_job_ran_during_a_long_queue_is_not_run_again(
        bot: Bot) -> None:
    turns = bot.app[keys.DISPATCHER].intake.turns
    held = 0
    while not turns._slots.locked():             # a burst: the turn waits for a slot
        await turns._slots.acquire()
        held += 1
    assert (await bot.wecom.text(TEACHER, "帮助")).statuses == [200]
    bot.clock.advance(timedelta(seconds=31))
    assert await bot.app[keys.JOBS].replay_unprocessed() == 1
    for _ in range(held):
        turns._slots.release()
    await bot.settle()
    assert len(bot.fake.texts(TEACHER)) == 1     # the queued turn found it done and stopped
    assert await InboundEvent.filter(status="done").count() == 1


async def test_a_database_restarting_for_a_moment_loses_no_message(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections refused for four tries in a row, as while PostgreSQL restarts: answering
    503 at once, every one of WeCom's four deliveries failed and the message was lost."""
    fail_first(monkeypatch, bot.app[keys.DISPATCHER].intake.commit, "_insert",
               [ConnectionRefusedError("database restarting")] * 4)
    delivery = await bot.wecom.text(TEACHER, "帮助")
    assert delivery.accepted
    await bot.settle()
    assert len(bot.fake.texts(TEACHER)) == 1


async def test_a_tap_during_a_database_restart_still_decides(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the tapped card failed at once while PostgreSQL restarted, every one of WeCom's
    four deliveries was refused and the head's 同意 was lost (benchmarks/load.py, pg-restart)."""
    from bot.channels.wecom import taps
    from tests.bot.channels.wecom.test_approval import HEAD, fill_leave, only_card
    await fill_leave(bot, "2")
    card = only_card(bot, HEAD)
    fail_first(monkeypatch, taps, "read", [ConnectionRefusedError("database restarting")] * 4)
    delivery = await bot.wecom.deliver(bot.wecom.tap_xml(HEAD, card.task_id, "approve"))
    assert delivery.accepted
    await bot.settle()
    assert sum("李院长已同意" in t for t in bot.fake.texts(TEACHER)) == 1
