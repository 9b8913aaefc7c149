"""Turns run by workers, apart from the server that answered the callbacks: each message once,
each user's messages in order, a failing turn left to the recovery job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from bot import keys
from bot.clock import FixedClock
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.services import build_services
from bot.turn_runner import TurnRunner
from storage.models import InboundEvent
from tests.bot.channels.wecom.conftest import (
    AES_KEY,
    TOKEN,
    Bot,
    start_bot,
    wecom_section,
)
from tests.conftest import wipe_database
from tests.fakes.wecom import FakeWecom
from tests.fakes.wecom_callbacks import WecomCallbacks
from tests.query_count import count_queries

TEACHER = "zhang_t"


@pytest.fixture
async def web_only(settings_factory: Callable[..., Settings], clock: FixedClock,
                   database_url: str, fake_wecom: FakeWecom) -> AsyncIterator[Bot]:
    """A server with `[server] run_turns = false`: it only stores and answers callbacks."""
    await wipe_database(database_url)
    settings = settings_factory(wecom=wecom_section(fake_wecom.url),  # type: ignore[attr-defined]
                                simulator={"enabled": False}, server={"run_turns": False},
                                directory={"allow_demo": True})
    app, client = await start_bot(settings, clock, fake_wecom)
    callbacks = WecomCallbacks(fake_wecom, str(client.make_url("/wecom/callback")),
                               token=TOKEN, encoding_aes_key=AES_KEY)
    try:
        yield Bot(app, client, callbacks, fake_wecom, clock)
    finally:
        fake_wecom.release()
        await callbacks.close()
        await client.close()


async def second_dispatcher(bot: Bot) -> Dispatcher:
    """Another worker's dispatcher on the same database (its own in-process locks)."""
    return (await build_services(bot.app[keys.SETTINGS], bot.clock)).dispatcher


async def test_the_server_only_answers_and_a_worker_runs_the_turn(web_only: Bot) -> None:
    assert (await web_only.wecom.text(TEACHER, "我要请假")).statuses == [200]
    await web_only.settle()
    assert web_only.fake.read(TEACHER) == []            # nothing ran in the server
    runner = TurnRunner(web_only.app[keys.DISPATCHER], slots=1)
    assert await runner.run_all() == 1
    await web_only.settle()
    assert "教职工请销假审批" in "".join(web_only.fake.read(TEACHER))


async def test_two_workers_keep_a_users_messages_in_order_and_run_each_once(
        web_only: Bot) -> None:
    for text in ("我要请假", "病假", "明天", "2"):
        assert (await web_only.wecom.text(TEACHER, text)).accepted
    runners = [TurnRunner(web_only.app[keys.DISPATCHER], slots=2),
               TurnRunner(await second_dispatcher(web_only), slots=2)]
    await asyncio.gather(*(runner.run_all() for runner in runners))
    await web_only.settle()
    questions = [text for text in web_only.fake.read(TEACHER) if "请填写" in text]
    assert len(questions) == 4                             # one question per message
    assert "请假类型" in questions[0] and "开始日期" in questions[1]
    assert "请假天数" in questions[2] and "请假事由" in questions[3]
    assert await InboundEvent.exclude(status="done").count() == 0


async def test_workers_running_batches_keep_every_users_messages_in_order(
        web_only: Bot) -> None:
    users = [TEACHER, "li_dean", "stu_liu", "chen_c", "lit_vdean"]
    for text in ("帮助", "我的申请", "谢谢"):
        for user in users:
            assert (await web_only.wecom.text(user, text)).accepted
    runners = [TurnRunner(web_only.app[keys.DISPATCHER], slots=2, batch=10),
               TurnRunner(await second_dispatcher(web_only), slots=2, batch=10)]
    ran = await asyncio.gather(*(runner.run_all() for runner in runners))
    await web_only.settle()
    assert sum(ran) >= len(users)                 # batches: each poll takes every user once
    for user in users:
        replies = web_only.fake.read(user)
        assert len(replies) == 3, (user, replies)
        assert "办事" in replies[0] or "可以" in replies[0]    # 帮助 answered first
    assert await InboundEvent.exclude(status="done").count() == 0


async def test_a_users_later_messages_run_in_the_next_batch_not_one_by_one(
        web_only: Bot) -> None:
    users = [TEACHER, "li_dean", "stu_liu"]
    for text in ("帮助", "我的申请"):
        for user in users:
            assert (await web_only.wecom.text(user, text)).accepted
    with count_queries() as counted:
        assert await TurnRunner(web_only.app[keys.DISPATCHER], slots=1, batch=10).run_all() == 6
    await web_only.settle()
    for user in users:
        replies = web_only.fake.read(user)
        assert len(replies) == 2 and ("办事" in replies[0] or "可以" in replies[0]), replies
    # two transactions of three turns each; a user's second message ran alone before
    assert counted.events_marked_done == 2, counted.sql


async def test_a_failing_turn_waits_for_the_recovery_job_and_holds_back_later_messages(
        web_only: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    dispatcher = web_only.app[keys.DISPATCHER]
    handle = dispatcher.handlers.handle
    failures = [RuntimeError("database went away mid-turn")]

    async def flaky(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return await handle(*args)
    monkeypatch.setattr(dispatcher.handlers, "handle", flaky)
    for text in ("我要请假", "病假"):
        assert (await web_only.wecom.text(TEACHER, text)).accepted
    assert (await web_only.wecom.text("li_dean", "帮助")).accepted
    runner = TurnRunner(dispatcher, slots=2)
    await runner.run_all()
    await web_only.settle()
    assert web_only.fake.read(TEACHER) == []             # 病假 did not overtake 我要请假
    assert web_only.fake.read("li_dean")                  # other users are not held up
    web_only.clock.advance(timedelta(seconds=31))
    # the recovery job runs the failed event and, after it, the one it held back
    assert await web_only.app[keys.JOBS].replay_unprocessed() == 2
    assert await runner.run_all() == 0
    await web_only.settle()
    questions = [text for text in web_only.fake.read(TEACHER) if "请填写" in text]
    assert "请假类型" in questions[0] and "开始日期" in questions[1]


async def test_in_a_worker_the_runner_takes_the_backlog_and_failed_events_when_due(
        web_only: Bot) -> None:
    jobs = web_only.app[keys.JOBS]
    jobs.runner_takes_waiting = True
    for user in ("zhang_t", "li_dean"):
        assert (await web_only.wecom.text(user, "帮助")).accepted
    await InboundEvent.filter(user_id="li_dean").update(         # its turn failed once
        attempts=1, next_try_at=web_only.clock.now() + timedelta(seconds=2))
    runner = TurnRunner(web_only.app[keys.DISPATCHER], slots=1)
    assert await runner.run_all() == 1                                # zhang_t only
    web_only.clock.advance(timedelta(seconds=31))
    assert await jobs.replay_unprocessed() == 0                       # not the job's work here
    assert await runner.run_all() == 1                                # li_dean, now due
    assert await InboundEvent.filter(status="done").count() == 2
