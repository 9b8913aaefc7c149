"""Stream-mode delivery: acks, copies of a frame (to one process or two), DingTalk's
`disconnect`, a socket that goes silent, and `ping`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot import keys
from bot.channels.dingtalk import receiver as receiver_module
from bot.clock import FixedClock
from bot.config import Settings
from storage import channel_cards
from storage.models import InboundEvent
from tests.bot.channels.dingtalk.conftest import Bot, start_bot
from tests.failing import fail_first
from tests.fakes.dingtalk import FakeDingtalk

USER = "zhang_t"


async def test_a_frame_delivered_twice_has_one_effect(bot: Bot) -> None:
    connection = await bot.connection()
    first = await bot.fake.say(USER, "我要请假", to=[connection], message_id="frame-1",
                               msg_id="msg-1")
    again = await bot.fake.say(USER, "我要请假", to=[connection], message_id="frame-1",
                               msg_id="msg-1")
    assert first == again
    assert (await connection.ack_of("frame-1"))["code"] == 200
    await bot.settle()
    # the same message in a new frame (DingTalk's redelivery after a late ack)
    await bot.fake.say(USER, "我要请假", to=[connection], message_id="frame-2", msg_id="msg-1")
    assert (await connection.ack_of("frame-2"))["code"] == 200
    await bot.settle()
    assert await InboundEvent.filter(channel="dingtalk").count() == 1
    assert sum("开始办理" in t for t in bot.fake.texts(USER)) == 1


async def test_a_frame_delivered_to_two_processes_has_one_effect(
        bot: Bot, dingtalk_settings: Settings, clock: FixedClock,
        fake_dingtalk: FakeDingtalk) -> None:
    mine = await bot.connection()
    other = await start_bot(dingtalk_settings, clock, fake_dingtalk)
    try:
        connections = await fake_dingtalk.wait_connections(2)
        assert len(connections) == 2 and mine in connections
        await fake_dingtalk.say(USER, "我要请假", to=connections, message_id="frame-9",
                                msg_id="msg-9")
        for connection in connections:
            assert (await connection.ack_of("frame-9"))["code"] == 200
        await bot.settle()
        await other.settle()
        assert await InboundEvent.filter(channel="dingtalk").count() == 1
        assert sum("开始办理" in t for t in fake_dingtalk.texts(USER)) == 1
    finally:
        await other.client.close()


async def test_the_dialog_goes_on_after_a_disconnect(bot: Bot) -> None:
    assert "请假类型" in (await bot.say(USER, "我要请假"))[-1]
    first = await bot.connection()
    await bot.fake.disconnect(first)
    await first.closed.wait()
    await bot.fake.wait_connections(1)
    second = await bot.connection()
    assert second is not first and bot.stream.connections == 2
    # a new ticket for the new socket: each ticket opens one connection only
    assert bot.fake.count("/v1.0/gateway/connections/open") == 2
    replies = await bot.say(USER, "病假")
    assert replies and replies[-1].startswith("（2/8）请填写开始日期")     # the next question


async def test_a_silent_socket_is_replaced_by_the_watchdog(bot: Bot) -> None:
    await bot.say(USER, "我要请假")
    stalled = await bot.connection()
    bot.fake.stall(stalled)              # no frames, no pongs: a dead TCP path
    for _ in range(1500):      # up to 15 s on a busy machine
        if bot.stream.connections == 2 and bot.stream.connected.is_set():
            break
        await asyncio.sleep(0.01)
    assert bot.stream.connections == 2 and bot.stream.last_end == "watchdog"
    replies = await bot.say(USER, "病假", to=[bot.fake.live()[-1]])
    assert replies and replies[-1].startswith("（2/8）请填写开始日期")


async def test_ping_is_answered_with_its_opaque(bot: Bot) -> None:
    connection = await bot.connection()
    ack = await bot.fake.ping(connection)
    assert ack is not None and ack["code"] == 200
    assert '"opaque": "op-' in ack["data"]


async def test_a_broken_frame_is_acknowledged_and_dropped(bot: Bot) -> None:
    connection = await bot.connection()
    message_id = await bot.fake.push("/v1.0/im/bot/messages/get", {"msgtype": "text"},
                                     to=[connection])
    assert (await connection.ack_of(message_id))["code"] == 200
    await bot.settle()
    assert await InboundEvent.filter(channel="dingtalk").count() == 0


async def test_reconnects_back_off_with_jitter_up_to_a_minute(bot: Bot) -> None:
    stream = bot.stream
    stream.backoff_base, stream.backoff_max = 1.0, 60.0
    assert stream.delay(0) == 0                       # after DingTalk's disconnect: at once
    for failures, ceiling in ((1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (20, 60)):
        delays = {stream.delay(failures) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (failures, delays)
        assert len(delays) > 1                        # spread: processes never in step


async def test_a_quiet_healthy_socket_is_kept(bot: Bot) -> None:
    # the watchdog is 1 s here: campusbot's pings and the server's pongs keep it from firing
    await asyncio.sleep(3)
    assert bot.stream.connections == 1 and bot.stream.connected.is_set()
    assert bot.fake.count("/v1.0/gateway/connections/open") == 1


async def test_an_event_that_cannot_be_stored_is_acked_500_and_delivered_again(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_first(monkeypatch, bot.app[keys.DISPATCHER].intake.commit, "_insert",
               [RuntimeError("database unavailable")])
    connection = await bot.connection()
    await bot.fake.say(USER, "帮助", to=[connection], message_id="f-1", msg_id="m-1")
    assert (await connection.ack_of("f-1"))["code"] == 500
    connection.acks.clear()
    await bot.fake.say(USER, "帮助", to=[connection], message_id="f-1", msg_id="m-1")
    assert (await connection.ack_of("f-1"))["code"] == 200
    await bot.settle()
    assert len(bot.fake.texts(USER)) == 1


async def test_a_tap_during_a_database_restart_still_decides(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """Looking the tapped card up failed at once while PostgreSQL restarted: the ack said
    500, and the head's 同意 waited for a redelivery from DingTalk."""
    from tests.bot.channels.dingtalk.test_stream_leave import HEAD, TEACHER, fill_leave, only_card
    await fill_leave(bot)
    card = only_card(bot, HEAD)
    fail_first(monkeypatch, channel_cards, "by_external_id",
               [ConnectionRefusedError("database restarting")] * 4)
    ack = await bot.tap(card, HEAD, "approve")
    assert ack["code"] == 200
    assert card.decided
    assert sum("李院长已同意" in text for text in bot.fake.texts(TEACHER)) == 1


async def test_a_slow_database_gets_a_500_in_time_and_loses_nothing(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receiver_module, "ACCEPT_DEADLINE", 0.3)
    commit = bot.app[keys.DISPATCHER].intake.commit
    insert = commit._insert
    slow = [1.0]

    async def slow_once(batch: Any) -> Any:
        if slow:
            await asyncio.sleep(slow.pop())
        return await insert(batch)
    monkeypatch.setattr(commit, "_insert", slow_once)
    connection = await bot.connection()
    await bot.fake.say(USER, "帮助", to=[connection], message_id="f-2", msg_id="m-2")
    assert (await connection.ack_of("f-2"))["code"] == 500
    await asyncio.sleep(1.0)
    connection.acks.clear()
    await bot.fake.say(USER, "帮助", to=[connection], message_id="f-3", msg_id="m-2")
    assert (await connection.ack_of("f-3"))["code"] == 200
    await bot.settle()
    assert len(bot.fake.texts(USER)) == 1      # the late row ran; the redelivery was a copy
    assert await InboundEvent.filter(status="done").count() == 1
