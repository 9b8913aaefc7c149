"""Questions with options go out as `Choices`: tapped answers come back as text with the
question's key; a tap on a question that is no longer current is stored nowhere."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from bot import keys
from flows.incoming import Incoming
from storage import outbox
from storage.models import Application, Conversation
from tests.conftest import Sim

TEACHER = "zhang_t"


async def tap(client: TestClient, user: str, key: str, option: str) -> list[dict[str, Any]]:
    """What a channel hands the dispatcher for a tap on a Choices button."""
    incoming = Incoming(channel="sim", user_id=user, kind="text", text=option, card_key=key,
                        dedupe_key=uuid.uuid4().hex)
    result = await client.app[keys.DISPATCHER].receive(incoming)
    assert result is not None
    taken = await outbox.take_for_user("sim", user, client.app[keys.CLOCK].now(),
                                       turn_id=result.turn_id)
    return [m.payload for m in taken]


def choices_of(replies: list[dict[str, Any]]) -> dict[str, Any]:
    found = [r for r in replies if r["type"] == "choices"]
    assert len(found) == 1, replies
    return found[0]


async def form_of(user: str) -> dict[str, Any]:
    conversation = await Conversation.get(user_id=user)
    assert conversation.active_application_id is not None
    return (await Application.get(id=conversation.active_application_id)).form


async def test_options_and_yes_no_are_tappable_and_text_questions_are_not(sim: Sim) -> None:
    first = choices_of(await sim.say(TEACHER, "我要请假"))
    assert first["options"][:2] == ["事假", "病假"] and first["key"]
    assert "1. 事假" in first["text"]             # a channel without buttons shows the text
    date = await sim.say(TEACHER, "事假")
    assert [r["type"] for r in date] == ["text"]
    for answer in ("明天", "3"):
        await sim.say(TEACHER, answer)
    reason = await sim.say(TEACHER, "家中有事需要处理")
    assert choices_of(reason)["options"] == ["是", "否"]


async def test_a_tap_answers_the_question_it_was_sent_with(sim: Sim, client: TestClient) -> None:
    question = choices_of(await sim.say(TEACHER, "我要请假"))
    replies = await tap(client, TEACHER, question["key"], "病假")
    assert "开始日期" in "\n".join(r.get("text", "") for r in replies)
    assert (await form_of(TEACHER))["leave_type"] == "病假"


async def test_a_tap_on_an_earlier_question_is_stored_nowhere(sim: Sim,
                                                              client: TestClient) -> None:
    question = choices_of(await sim.say(TEACHER, "我要请假"))
    await sim.say(TEACHER, "事假")                         # typed: the date is asked now
    replies = await tap(client, TEACHER, question["key"], "病假")
    text = "\n".join(r.get("text", "") for r in replies)
    assert "之前的问题" in text and "开始日期" in text
    form = await form_of(TEACHER)
    assert form == {"leave_type": "事假"}


async def test_the_same_question_asked_again_gets_a_new_key(sim: Sim,
                                                            client: TestClient) -> None:
    first = choices_of(await sim.say(TEACHER, "我要请假"))
    await sim.say(TEACHER, "事假")
    again = choices_of(await sim.say(TEACHER, "返回"))
    assert again["key"] != first["key"]          # WeCom wants a task id per card
    # the first card asked the same question, which is current again: its tap counts
    await tap(client, TEACHER, first["key"], "病假")
    assert (await form_of(TEACHER))["leave_type"] == "病假"


async def test_a_tap_of_another_application_is_stored_nowhere(sim: Sim,
                                                              client: TestClient) -> None:
    old = choices_of(await sim.say(TEACHER, "我要请假"))
    await sim.say(TEACHER, "取消")
    await sim.say(TEACHER, "我要请假")
    replies = await tap(client, TEACHER, old["key"], "病假")
    assert "之前的问题" in "\n".join(r.get("text", "") for r in replies)
    assert await form_of(TEACHER) == {}


async def test_a_tap_after_the_dialog_closed_says_so(sim: Sim, client: TestClient) -> None:
    question = choices_of(await sim.say(TEACHER, "我要请假"))
    await sim.say(TEACHER, "取消")
    replies = await tap(client, TEACHER, question["key"], "病假")
    assert [r["text"] for r in replies] == ["这个问题所在的申请已经结束，不用再回答了。"]
