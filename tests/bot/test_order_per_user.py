"""Order per user, whatever fails: a user's messages are handled in the order they were stored,
and their replies are sent in the order their conversation produced them — across retries,
crashes, restarts and processes. Each test breaks the order on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bot import keys
from bot.channels.base import DeliveryError
from bot.clock import FixedClock
from bot.config import Settings
from bot.dispatcher import TURN_GIVEN_UP, TurnResult
from bot.sender import OutboxSender
from flows.incoming import Incoming
from storage import outbox
from storage.models import InboundEvent, OutboxMessage
from tests.bot.channels.wecom.conftest import AES_KEY, TOKEN, Bot, start_bot
from tests.conftest import wipe_database
from tests.failing import handler_failing
from tests.fakes.wecom import FakeWecom
from tests.fakes.wecom_callbacks import WecomCallbacks
from tests.processes import processes, wecom_env

TEACHER = "zhang_t"


class RecordingChannel:
    """A platform that records what arrives and fails the sends it is told to."""

    name = "rec"
    pushes = True

    def __init__(self, fail: Callable[[str], bool] = lambda text: False) -> None:
        self.fail = fail
        self.delivered: list[str] = []

    async def send(self, user_id: str, payload: dict[str, Any]) -> None:
        if self.fail(payload["text"]):
            raise DeliveryError("系统繁忙", transient=True)
        self.delivered.append(payload["text"])


async def queue(clock: FixedClock, *texts: str, user: str = TEACHER) -> list[int]:
    for text in texts:
        await outbox.enqueue(channel="rec", user_id=user, payload={"type": "text", "text": text},
                             now=clock.now())
    return list(await OutboxMessage.filter(user_id=user).order_by("id").values_list(
        "id", flat=True))


def sender(channel: RecordingChannel, clock: FixedClock) -> OutboxSender:
    return OutboxSender({"rec": channel}, clock, max_attempts=8, per_user_per_minute=30)


# ---- the outbox ---------------------------------------------------------------------------------

async def test_later_messages_due_first_wait_for_the_one_being_retried(
        client: Any, clock: FixedClock) -> None:
    first, *_ = await queue(clock, "开始办理", "请填写请假类型", "请填写开始日期")
    # the first failed and waits 5 s; the later ones are due now (the old sender put them back
    # for 1 s, the failed one for 2 s or more, and the next claim took them first)
    await OutboxMessage.filter(id=first).update(attempts=1,
                                                next_try_at=clock.now() + timedelta(seconds=5))
    channel = RecordingChannel()
    await sender(channel, clock).deliver_due()
    assert channel.delivered == []
    clock.advance(timedelta(seconds=5))
    await sender(channel, clock).deliver_due()
    assert channel.delivered == ["开始办理", "请填写请假类型", "请填写开始日期"]


async def test_a_failed_message_holds_back_the_rest_across_claims(
        client: Any, clock: FixedClock) -> None:
    failures = [True, True]
    channel = RecordingChannel(fail=lambda text: text == "第一条" and bool(failures)
                               and failures.pop())
    await queue(clock, "第一条", "第二条", "第三条")
    worker = sender(channel, clock)
    for _ in range(6):
        await worker.deliver_due()
        await queue(clock, f"后来的{_}")           # the conversation goes on meanwhile
        clock.advance(timedelta(seconds=0.3))
    for _ in range(3):
        clock.advance(timedelta(seconds=2))
        await worker.deliver_due()
    assert channel.delivered[:3] == ["第一条", "第二条", "第三条"]
    assert channel.delivered[3:] == [f"后来的{n}" for n in range(6)]


async def test_a_dead_senders_claim_is_retaken_in_order(client: Any, clock: FixedClock) -> None:
    await queue(clock, "第一条", "第二条")
    taken = await outbox.claim_due(clock.now(), ["rec"], owner="killed-process")
    assert len(taken) == 2                           # then the process was killed (kill -9)
    await queue(clock, "第三条")
    channel = RecordingChannel()
    other = sender(channel, clock)                    # another process, or the restarted one
    clock.advance(timedelta(seconds=10))
    await other.deliver_due()
    assert channel.delivered == []                    # not before the claim has expired
    clock.advance(outbox.LEASE)
    await other.deliver_due()
    assert channel.delivered == ["第一条", "第二条", "第三条"]


async def test_two_senders_claiming_at_once_keep_each_users_order(
        client: Any, clock: FixedClock) -> None:
    failing = {"u0-0", "u3-0"}                       # the first message of two users fails once
    channel = RecordingChannel(fail=lambda text: text in failing and not failing.discard(text))
    users = [f"u{n}" for n in range(6)]
    for user in users:
        await outbox.enqueue(channel="rec", user_id=user, payload={"type": "text",
                                                                   "text": f"{user}-0"},
                             now=clock.now())
    for step in range(1, 4):
        for user in users:
            await outbox.enqueue(channel="rec", user_id=user, payload={
                "type": "text", "text": f"{user}-{step}"}, now=clock.now())
    senders = [sender(channel, clock), sender(channel, clock)]   # two processes' senders
    for _ in range(4):
        await asyncio.gather(*(s.deliver_due() for s in senders))
        clock.advance(timedelta(seconds=2))
    for user in users:
        assert [t for t in channel.delivered if t.startswith(f"{user}-")] == [
            f"{user}-{step}" for step in range(4)]


async def test_a_given_up_message_lets_the_later_ones_go(client: Any, clock: FixedClock) -> None:
    channel = RecordingChannel()

    async def refuse(user_id: str, payload: dict[str, Any]) -> None:
        if payload["text"] == "给已离职的人":
            raise DeliveryError("errcode 81013 user invalid", retryable=False)
        channel.delivered.append(payload["text"])
    channel.send = refuse  # type: ignore[method-assign]
    await queue(clock, "给已离职的人", "之后的消息")
    await sender(channel, clock).deliver_due()
    assert channel.delivered == ["之后的消息"]
    assert [m.status for m in await OutboxMessage.all().order_by("id")] == ["failed", "sent"]


# ---- inbound events -----------------------------------------------------------------------------

async def test_a_message_stored_before_a_crash_runs_before_a_newer_one_after_the_restart(
        wecom_settings: Settings, clock: FixedClock, database_url: str,
        fake_wecom: FakeWecom) -> None:
    await wipe_database(database_url)
    app, client = await start_bot(wecom_settings, clock, fake_wecom)
    app[keys.DISPATCHER].intake.schedule = lambda accepted: None   # dies before the turn runs
    callbacks = WecomCallbacks(fake_wecom, str(client.make_url("/wecom/callback")),
                               token=TOKEN, encoding_aes_key=AES_KEY)
    try:
        assert (await callbacks.text(TEACHER, "我要请假")).statuses == [200]
        await client.close()
        assert fake_wecom.read(TEACHER) == []
        # a new process starts; the teacher's next message arrives before any recovery job ran
        app, client = await start_bot(wecom_settings, clock, fake_wecom)
        callbacks.url = str(client.make_url("/wecom/callback"))
        replies = await Bot(app, client, callbacks, fake_wecom, clock).say(TEACHER, "病假")
    finally:
        await callbacks.close()
        await client.close()
    questions = [text for text in replies if "请填写" in text]
    assert len(questions) == 2
    assert "请假类型" in questions[0] and "开始日期" in questions[1]


async def test_a_turn_runs_the_users_older_waiting_message_first(bot: Bot) -> None:
    dispatcher = bot.app[keys.DISPATCHER]
    older = await dispatcher.accept(Incoming(channel="wecom", user_id=TEACHER, kind="text",
                                             text="我要请假", dedupe_key="older"))
    newer = await dispatcher.accept(Incoming(channel="wecom", user_id=TEACHER, kind="text",
                                             text="病假", dedupe_key="newer"))
    assert older is not None and newer is not None
    result = await dispatcher.process(newer)          # e.g. a worker picked the newer one
    assert result.processed and result.turns == 2
    await bot.settle()
    questions = [text for text in bot.fake.read(TEACHER) if "请填写" in text]
    assert "请假类型" in questions[0] and "开始日期" in questions[1]
    assert await dispatcher.process(older) == TurnResult("", processed=False)   # done already


async def keeps_failing_then_given_up(bot: Bot) -> None:
    """触发故障's turn fails every time: after its retries the user is told, and the 帮助 sent
    behind it is answered only then."""
    for text in ("触发故障", "帮助"):
        assert (await bot.wecom.text(TEACHER, text)).accepted
    await bot.settle()
    assert bot.fake.read(TEACHER) == []                 # 帮助 waits behind the failed one
    for _ in range(5):                                   # the retries, with back-off
        bot.clock.advance(timedelta(minutes=11))
        await bot.app[keys.JOBS].replay_unprocessed()
        await bot.settle()
    texts = bot.fake.read(TEACHER)
    assert texts[0] == TURN_GIVEN_UP and len(texts) == 2   # then 帮助 is answered
    assert [e.status for e in await InboundEvent.all().order_by("id")] == ["failed", "done"]


async def test_a_message_whose_turn_keeps_failing_is_given_up_and_the_user_told(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    handler_failing(monkeypatch, bot.app[keys.DISPATCHER],
                    lambda incoming: incoming.text == "触发故障")
    await keeps_failing_then_given_up(bot)


async def test_a_turn_whose_writes_cannot_be_made_is_given_up_too(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """The turn ran, but what it leaves cannot be written (here a value the conversation
    cannot store): the writes are made at the transaction's end, and their failure must count
    as the turn's, not escape it."""
    dispatcher = bot.app[keys.DISPATCHER]
    handle = dispatcher.handlers.handle

    async def unstorable_for_one_text(turn: Any, conversation: Any, incoming: Incoming) -> None:
        await handle(turn, conversation, incoming)
        if incoming.text == "触发故障":
            conversation.context["unstorable"] = object()
    monkeypatch.setattr(dispatcher.handlers, "handle", unstorable_for_one_text)
    await keeps_failing_then_given_up(bot)


# ---- two processes -------------------------------------------------------------------------------

async def test_two_processes_keep_a_users_messages_in_order(
        live_wecom: FakeWecom, database_url: str) -> None:
    """One server stores a message and does not run it (as if its turn had not started yet);
    the next message reaches another server, which must run the first one first."""
    fake = live_wecom
    await wipe_database(database_url)
    env = wecom_env(fake.url)  # type: ignore[attr-defined]
    with processes(database_url, env) as started:
        storing = await started.serve(CAMPUSBOT_SERVER__RUN_TURNS="false")
        running = await started.serve()
        callbacks = WecomCallbacks(fake, f"{storing}/wecom/callback", token=TOKEN,
                                   encoding_aes_key=AES_KEY)
        try:
            assert (await callbacks.text(TEACHER, "我要请假")).statuses == [200]
            callbacks.url = f"{running}/wecom/callback"
            assert (await callbacks.text(TEACHER, "病假")).statuses == [200]
            for _ in range(200):
                if sum("请填写" in text for text in fake.read(TEACHER)) >= 2:
                    break
                await asyncio.sleep(0.05)
        finally:
            await callbacks.close()
    questions = [text for text in fake.read(TEACHER) if "请填写" in text]
    assert len(questions) == 2
    assert "请假类型" in questions[0] and "开始日期" in questions[1]
