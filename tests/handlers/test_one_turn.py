"""One turn to start: a sentence that asks to apply starts the right form at once, with what it
says filled in; a question gets the short guide; the asker's role picks the process."""

from __future__ import annotations

import pytest

from storage.models import Application, Conversation
from tests.conftest import Sim

TEACHER = "zhang_t"
STUDENT = "stu_liu"


async def active_form(user: str) -> tuple[str, dict[str, object]]:
    conversation = await Conversation.get(user_id=user)
    assert conversation.active_application_id is not None
    application = await Application.get(id=conversation.active_application_id)
    return application.state, application.form


@pytest.mark.parametrize(("user", "sentence", "process", "filled", "asked"), [
    (TEACHER, "下周一开始请6天事假，回老家处理家事", "教职工请销假审批",
     {"leave_type": "事假", "start_date": "2026-11-30", "days": 6, "reason": "回老家处理家事"},
     "ask_leaves_city"),
    (TEACHER, "我办公室的电脑开不了机了，帮我报修一下", "IT报修",
     {"problem_type": "电脑", "description": "我办公室的电脑开不了机了"}, "ask_location"),
    (STUDENT, "我明天要请假回家", "学生请假审批", {"start_date": "2026-11-27"},
     "ask_leave_type"),
    (TEACHER, "帮我订一下录播教室A明天下午", "录播教室申请",
     {"room": "录播教室A（主楼301）", "use_date": "2026-11-27", "slot": "下午（14:00-18:00）"},
     "ask_course"),
    (TEACHER, "我要采购30台电脑，预算20万", "货物及服务采购申请",
     {"quantity": 30, "amount": 200000}, "ask_item"),
])
async def test_a_clear_request_starts_the_form_with_what_it_says(
        sim: Sim, user: str, sentence: str, process: str, filled: dict[str, object],
        asked: str) -> None:
    reply = await sim.text(user, sentence)
    assert f"开始办理《{process}》" in reply
    assert "请回复序号" not in reply and "【" not in reply      # no list, no guide first
    assert "已根据您的话填好" in reply
    state, form = await active_form(user)
    assert form == filled
    assert state == asked


async def test_amounts_in_the_intro_read_as_people_write_them(sim: Sim) -> None:
    reply = await sim.text(TEACHER, "我要采购30台电脑，预算20万")
    assert "预算金额：20万元（200,000元）" in reply


@pytest.mark.parametrize(("user", "question", "process"), [
    (TEACHER, "请假怎么走流程", "教职工请销假审批"),
    (STUDENT, "请假找谁批", "学生请假审批"),
    (TEACHER, "录播教室在哪借", "录播教室申请"),
])
async def test_a_question_gets_the_short_guide_and_how_to_start(sim: Sim, user: str,
                                                                question: str,
                                                                process: str) -> None:
    reply = await sim.text(user, question)
    assert reply.startswith(f"【{process}】")
    assert reply.endswith("回复“办理”开始申请。")
    assert len(reply.split("\n")) <= 8
    started = await sim.text(user, "办理")
    assert f"开始办理《{process}》" in started


async def test_a_single_candidate_is_never_a_one_item_list(sim: Sim) -> None:
    reply = await sim.text(TEACHER, "打印机打不出来")
    assert "请回复序号" not in reply
    assert "【IT报修】" in reply
