"""Turns of several users in one transaction (`Dispatcher.process_batch`, what the server does
with the turns a burst of callbacks leaves waiting): everyone gets their answer, one failure
costs nobody else theirs, and a user's own messages still run in order."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot import keys
from bot.dispatcher import Dispatcher
from bot.intake import Accepted
from flows.incoming import Incoming
from storage.models import InboundEvent, OutboxMessage
from tests.query_count import count_queries

USERS = ["zhang_t", "sec_liu", "vp_wu", "gpo_huang", "hr_chen"]


async def accept(dispatcher: Dispatcher, user: str, text: str, key: str) -> Accepted:
    accepted = await dispatcher.accept(Incoming(channel="sim", user_id=user, kind="text",
                                                text=text, dedupe_key=key))
    assert accepted is not None
    return accepted


async def texts_to(user: str) -> list[str]:
    return [m.payload.get("text", "") for m in
            await OutboxMessage.filter(user_id=user).order_by("id")]


async def test_several_users_turns_share_one_commit_and_each_is_answered(
        client: TestClient) -> None:
    dispatcher = client.app[keys.DISPATCHER]
    batch = [await accept(dispatcher, user, "我要请假", f"k-{user}") for user in USERS]
    with count_queries() as counted:
        await dispatcher.process_batch(batch)
    for user in USERS:
        assert "开始办理" in "\n".join(await texts_to(user)), user
    assert await InboundEvent.filter(status="done").count() == len(USERS)
    # one BEGIN and one COMMIT for all five turns (one each would be ten)
    assert counted.sql.count("<begin>") == counted.sql.count("<commit>") == 1, counted.sql


async def test_a_failing_turn_in_a_batch_costs_the_others_nothing(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    dispatcher = client.app[keys.DISPATCHER]
    handle = dispatcher.handlers.handle

    async def broken_for_one_user(turn: Any, conversation: Any, incoming: Incoming) -> None:
        if incoming.user_id == "vp_wu":
            raise RuntimeError("a bug in a handler")
        await handle(turn, conversation, incoming)
    monkeypatch.setattr(dispatcher.handlers, "handle", broken_for_one_user)
    batch = [await accept(dispatcher, user, "帮助", f"k-{user}") for user in USERS]
    await dispatcher.process_batch(batch)
    for user in USERS:
        if user != "vp_wu":
            assert len(await texts_to(user)) == 1, user
    assert await texts_to("vp_wu") == []
    failed = await InboundEvent.get(user_id="vp_wu")
    assert failed.status == "received" and failed.attempts == 1   # held for its retry


async def test_a_users_second_message_in_a_batch_runs_after_the_first(
        client: TestClient) -> None:
    dispatcher = client.app[keys.DISPATCHER]
    batch = [await accept(dispatcher, "zhang_t", "我要请假", "a1"),
             await accept(dispatcher, "sec_liu", "帮助", "b1"),
             await accept(dispatcher, "zhang_t", "病假", "a2")]
    await dispatcher.process_batch(batch)
    questions = [text for text in await texts_to("zhang_t") if "请填写" in text]
    assert "请假类型" in questions[0] and "开始日期" in questions[1]
    assert len(await texts_to("sec_liu")) == 1
