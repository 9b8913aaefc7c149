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
from storage.models import Application, ApprovalTask, InboundEvent, OutboxMessage
from tests.conftest import Sim
from tests.failing import handler_failing
from tests.flows.test_leave_dialog import TEACHER, fill_leave
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
    # one BEGIN and one COMMIT for all five turns (one each would be ten), their new
    # conversations created in one INSERT and what they read in two SELECTs (before and after),
    # their replies queued in one INSERT and their events marked done in one UPDATE
    assert counted.sql.count("<begin>") == counted.sql.count("<commit>") == 1, counted.sql
    assert sum(q.startswith("INSERT INTO conversations") for q in counted.sql) == 1, counted.sql
    assert sum("FROM conversations" in q or "FROM wanted" in q for q in counted.sql) == 2, \
        counted.sql
    assert sum(q.startswith("INSERT INTO outbox") for q in counted.sql) == 1, counted.sql
    assert sum(q.startswith("UPDATE inbound_events") for q in counted.sql) == 1, counted.sql
    # their next messages: the conversations exist, one SELECT reads all five
    batch = [await accept(dispatcher, user, "病假", f"k2-{user}") for user in USERS]
    with count_queries() as counted:
        await dispatcher.process_batch(batch)
    for user in USERS:
        assert "（2/" in (await texts_to(user))[-1], user   # the form's second question
    assert sum("FROM conversations" in q or "FROM wanted" in q for q in counted.sql) == 1, \
        counted.sql
    # … and their conversations written back in one UPDATE
    assert sum(q.startswith("UPDATE conversations") for q in counted.sql) == 1, counted.sql


async def test_an_event_finished_elsewhere_during_a_batch_is_not_answered_twice(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process ran one user's event while the batch was running it (on PostgreSQL the
    batch read the event before that process committed): the batch must not commit a second
    answer. Played here inside the batch's transaction: the first time the user's turn runs,
    the other process's answer is queued and the event marked done."""
    dispatcher = client.app[keys.DISPATCHER]
    handle = dispatcher.handlers.handle
    raced: list[str] = []

    async def finished_elsewhere(turn: Any, conversation: Any, incoming: Incoming) -> None:
        if incoming.user_id == "vp_wu" and not raced:
            raced.append(incoming.user_id)
            await OutboxMessage.create(channel="sim", user_id="vp_wu",
                                       payload={"type": "text", "text": "另一进程的回复"},
                                       next_try_at=turn.now, created_at=turn.now)
            await InboundEvent.filter(user_id="vp_wu").update(status="done")
        await handle(turn, conversation, incoming)
    monkeypatch.setattr(dispatcher.handlers, "handle", finished_elsewhere)
    batch = [await accept(dispatcher, user, "帮助", f"k-{user}") for user in USERS]
    await dispatcher.process_batch(batch)
    assert raced == ["vp_wu"]
    for user in USERS:
        assert len(await texts_to(user)) == 1, (user, await texts_to(user))
    assert await InboundEvent.filter(status="done").count() == len(USERS)


async def test_a_failing_turn_in_a_batch_costs_the_others_nothing(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    dispatcher = client.app[keys.DISPATCHER]
    handler_failing(monkeypatch, dispatcher, lambda incoming: incoming.user_id == "vp_wu")
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


async def test_what_an_applicant_asks_in_the_approvers_batch_is_answered_after_the_decision(
        client: TestClient, sim: Sim) -> None:
    """The head taps 同意 and the teacher asks 我的申请 in the same burst, the tap's turn first:
    the teacher is told the decision, and the status that follows must not be older (what the
    batch read before its turns is only the teacher's own conversation, waiting message and
    draft; the status is read when the turn runs)."""
    await fill_leave(sim, "1")
    await sim.say(TEACHER, "确认")
    application = await Application.get(applicant_id=TEACHER)
    task = await ApprovalTask.get(application_id=application.id, status="pending")
    dispatcher = client.app[keys.DISPATCHER]
    tap = await dispatcher.accept(Incoming(channel="sim", user_id=task.approver_id, kind="tap",
                                           card_key=task.card_key, action="approve",
                                           dedupe_key="tap-1"))
    assert tap is not None
    already = len(await texts_to(TEACHER))
    await dispatcher.process_batch([tap, await accept(dispatcher, TEACHER, "我的申请", "ask")])
    told, answered = (await texts_to(TEACHER))[already:]
    assert "同意" in told or "通过" in told, told
    assert "审批中" not in answered and "待" not in answered, answered


async def test_users_second_messages_queued_behind_their_first_run_batched_too(
        client: TestClient) -> None:
    """A burst where each user sent twice (10,000 callbacks from 2,000 users): a user's second
    message ran alone, in a transaction of its own, right after the batch that ran the first —
    twice the CPU per reply. It now waits for the next batch, in order."""
    dispatcher = client.app[keys.DISPATCHER]
    users = USERS[:3]
    for text in ("我要请假", "病假"):
        for user in users:
            dispatcher.intake.schedule(await accept(dispatcher, user, text, f"{user}-{text}"))
    with count_queries() as counted:
        await dispatcher.intake.idle()
    for user in users:
        questions = [text for text in await texts_to(user) if "请填写" in text]
        assert "（1/" in questions[0] and "（2/" in questions[1], (user, questions)
    assert counted.events_marked_done == 2, counted.sql   # two batches of three turns
