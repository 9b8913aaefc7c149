"""The dialog as an outsider found it (outsider3 F7): a counter that never jumps, natural
answers to optional and place questions, date ranges told as a start and a length, sentences
that start the form with all they say, and the status of leave approved but not begun."""

from __future__ import annotations

import itertools
import re

import pytest

from storage.models import Application, Conversation
from tests.conftest import Sim
from tests.flows.test_approvals import submitted
from tests.flows.test_leave_dialog import TEACHER
from tests.flows.test_leave_followups import approve

STUDENT = "stu_liu"
DEPT_HEAD = "li_dean"
COUNTER = re.compile(r"（(\d+)/(\d+)）请填写")


async def active(user: str) -> Application:
    conversation = await Conversation.get(user_id=user)
    assert conversation.active_application_id is not None
    return await Application.get(id=conversation.active_application_id)


def counter(reply: str) -> tuple[int, int]:
    match = COUNTER.search(reply)
    assert match, reply
    return int(match.group(1)), int(match.group(2))


async def test_the_counter_never_grows_when_a_conditional_question_comes(sim: Sim) -> None:
    intro = await sim.text(TEACHER, "我要请假")
    announced = int(re.search(r"(?:共|最多) (\d+) 项", intro).group(1))
    seen = [counter(intro)]
    for answer in ("病假", "明天", "3", "发烧就医需要休息", "无", "是", "湖南省岳阳市"):
        seen.append(counter(await sim.text(TEACHER, answer)))
    assert seen[0][1] == announced
    assert [position for position, _ in seen] == list(range(1, len(seen) + 1))
    totals = [total for _, total in seen]
    assert all(later <= earlier for earlier, later in itertools.pairwise(totals))
    assert seen[-1][0] == seen[-1][1]           # the last question says it is the last


async def test_changing_an_answer_at_the_summary_shows_its_own_number(sim: Sim) -> None:
    for answer in ("我要请假", "事假", "明天", "3", "家中有事需要处理", "是", "湖南省岳阳市"):
        await sim.say(TEACHER, answer)
    summary = await sim.text(TEACHER, "13800000000")
    number = next(line.split(".")[0] for line in summary.split("\n") if "外出地点" in line)
    total = sum(1 for line in summary.split("\n") if re.match(r"\d+\. ", line))
    asked = await sim.text(TEACHER, f"修改 {number}")
    assert counter(asked) == (int(number), total)


@pytest.mark.parametrize("no", ["否", "没有", "不用"])
async def test_no_to_an_optional_file_means_none(sim: Sim, no: str) -> None:
    for answer in ("我要请假", "病假", "明天", "3", "发烧就医需要休息"):
        await sim.say(TEACHER, answer)
    reply = await sim.text(TEACHER, no)
    assert "是否离开本市" in reply
    assert (await active(TEACHER)).form["proof"] is None


async def test_an_optional_file_question_asks_again_in_plain_chinese(sim: Sim) -> None:
    for answer in ("我要请假", "病假", "明天", "3", "发烧就医需要休息"):
        await sim.say(TEACHER, answer)
    reply = await sim.text(TEACHER, "稍后再说吧")
    assert "需要上传材料" not in reply
    assert "请上传文件或图片" in reply and "没有请回复“无”" in reply
    assert (await active(TEACHER)).state == "ask_proof"


@pytest.mark.parametrize("typed", ["13800001111", "12345"])
async def test_a_place_question_refuses_a_number(sim: Sim, typed: str) -> None:
    for answer in ("我要请假", "事假", "明天", "3", "家中有事需要处理", "是"):
        await sim.say(TEACHER, answer)
    reply = await sim.text(TEACHER, typed)
    assert "外出地点" in reply and "地名" in reply
    application = await active(TEACHER)
    assert application.state == "ask_destination" and "destination" not in application.form


@pytest.mark.parametrize(("typed", "shown"), [
    ("下周二开始4天", "12月1日–12月4日（4天）"),
    ("从12月7日起3天", "12月7日–12月9日（3天）"),
    ("下周二起，共4天", "12月1日–12月4日（4天）"),
])
async def test_a_date_range_told_as_a_start_and_a_length(sim: Sim, typed: str,
                                                          shown: str) -> None:
    await sim.say(DEPT_HEAD, "我要请假")
    await sim.say(DEPT_HEAD, "事假")
    reply = await sim.text(DEPT_HEAD, typed)
    assert "没看懂" not in reply
    assert (await active(DEPT_HEAD)).form["period"] == {
        "12月1日–12月4日（4天）": ["2026-12-01", "2026-12-04"],
        "12月7日–12月9日（3天）": ["2026-12-07", "2026-12-09"]}[shown]


@pytest.mark.parametrize(("user", "sentence", "shown"), [
    pytest.param(TEACHER, "下周一开始请10天年休假，带父母去海南旅游",
                 ["开始办理《教职工请销假审批》", "请假类型：年休假", "请假天数：10天",
                  "请假事由：带父母去海南旅游"],
                 id="a trailing reason fills the reason"),
    pytest.param(STUDENT, "奶奶住院了我想请假回家4天",
                 ["开始办理《学生请假审批》", "请假天数：4天", "请假事由：奶奶住院了"],
                 id="a student's reason told before the request"),
    pytest.param(DEPT_HEAD, "我下周三要去北京开会，请假3天",
                 ["开始办理《部门主要负责人个人外出请销假》", "外出类型：因公外出",
                  "外出地点：北京", "12月2日–12月4日（3天）"],
                 id="a head's meeting trip fills the kind and the place"),
])
async def test_a_sentence_starts_the_form_with_all_it_says(sim: Sim, user: str, sentence: str,
                                                           shown: list[str]) -> None:
    reply = await sim.text(user, sentence)
    for part in shown:
        assert part in reply, part


async def test_a_wish_starts_and_a_question_gets_the_guide(sim: Sim) -> None:
    wish = await sim.text(TEACHER, "我的车牌想录进学校门禁")
    assert "开始办理《教职员工机动车辆登记申请》" in wish
    await sim.say(TEACHER, "取消")
    question = await sim.text(TEACHER, "车牌怎么录进学校门禁")
    assert "【教职员工机动车辆登记申请】" in question.split("\n")[0]
    assert "开始办理" not in question


async def test_approved_leave_not_yet_begun_is_shown_as_approved_not_begun(sim: Sim) -> None:
    application = await submitted(sim, "2", start="12月7日")
    await approve(sim)
    view = await sim.text(TEACHER, f"查看 {application.id}")
    first = view.split("\n")[0]
    assert "已同意（未开始）" in first and "待销假" not in first
    mine = await sim.text(TEACHER, "我的申请")
    assert "已同意（未开始）" in mine
    sim.advance(days=11)                                   # 7 December: the leave has begun
    assert "待销假" in (await sim.text(TEACHER, f"查看 {application.id}")).split("\n")[0]
