"""Property: whatever a user types at whatever question of any flow — any Unicode, control
characters, numbers out of range, impossible dates, commands, markup, the longest text allowed —
the bot answers in Chinese (a re-prompt, the next question, or what the command does), no turn
fails, and the dialog is never stuck: answering the question as its example says moves on, and
answering the rest reaches the summary. Hypothesis draws the texts; each is a real turn through
the simulator and the database."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.definition import FlowDefinition
from storage.models import InboundEvent
from tests.conftest import Sim
from tests.flows.test_catalog_walks import ONLINE, ids
from tests.flows.test_dialog_properties import send
from tests.flows.walker import applicant_for, current_application

CHINESE = re.compile(r"[\u4e00-\u9fff]")
TRICKY = [
    " ", "\n\t", "\x00", "0", "-1", "999999999999999999999", "1e309", "nan", "0.0001", "½",
    "三百万", "2026-02-30", "2026-13-01", "0000-00-00", "昨天", "上上周八", "下周一到下周三",
    "12月32日", "25:61", "13800000000" * 20, "修改", "修改 0", "修改 99", "修改 -1", "返回",
    "上一步", "确认", "同意 1", "驳回 99999 没有理由", "转交", "待办", "帮助", "我的申请",
    "查看 1", "销假", "5分", "详情", "联系方式", "流程图", "办理 不存在的事项", "我要请假",
    "😀", "<script>alert(1)</script>", "' OR 1=1 --", "%s%n", "{}", "\u202e反转", "Ａ１２",
    "是否", "无无无", "长" * 2000,
]
ANY_TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40)


def user_texts(flow_number: int) -> st.SearchStrategy[str]:
    """The tricky texts, each flow starting at another one (Hypothesis tries the first
    first), and any text at all."""
    start = flow_number * 7 % len(TRICKY)
    return st.one_of(st.sampled_from(TRICKY[start:] + TRICKY[:start]), ANY_TEXT)
FUZZ = settings(deadline=None, derandomize=True, max_examples=2,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


async def type_text(client: TestClient, user: str, text: str) -> str:
    """What the user reads back: the replies, or the simulator's refusal (blank text)."""
    response = await client.post("/sim/api/messages", json={"user": user, "text": text})
    body: dict[str, Any] = await response.json()
    if response.status == 400:
        return str(body["error"])
    assert response.status == 200, body
    return "\n".join(str(reply.get("text") or reply.get("title") or "")
                     for reply in body["replies"])


@pytest.mark.parametrize("definition", ONLINE, ids=ids(ONLINE))
@FUZZ
@given(data=st.data())
async def test_any_text_at_any_question_gets_an_answer_and_never_sticks(
        sim: Sim, client: TestClient, definition: FlowDefinition, data: st.DataObject) -> None:
    user = (await applicant_for(definition)).id
    await sim.say(user, "取消")
    await sim.say(user, f"办理 {definition.name}")
    questions = len(definition.fields)
    texts = user_texts(ONLINE.index(definition))
    for _ in range(questions + 3):               # at each question: a text, then its example
        before = await current_application(user)
        if before is None or before.state == "confirm":   # ended by a command, or all answered
            break
        assert before.state.startswith("ask_"), before.state
        text = data.draw(texts, label=f"at {before.state}")
        reply = await type_text(client, user, text)
        assert CHINESE.search(reply), (before.state, text, reply)
        assert not await InboundEvent.filter(attempts__gt=0).exists(), (before.state, text)
        now = await current_application(user)
        if now is None or not now.state.startswith("ask_"):
            continue
        await send(sim, user, definition, now.state, "example")   # the dialog goes on
        after = await current_application(user)
        assert after is None or after.state != now.state or after.form != now.form, (
            now.state, text)
    for _ in range(questions + 1):               # then examples only: the summary comes
        now = await current_application(user)
        if now is None or now.state == "confirm":
            return
        await send(sim, user, definition, now.state, "example")
    raise AssertionError(f"{definition.id}: still at {now.state} after answering every question")
