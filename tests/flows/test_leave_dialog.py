"""The 教职工请销假审批 dialog as a teacher experiences it, end to end through the simulator."""

from __future__ import annotations

from tests.conftest import Sim

TEACHER = "zhang_t"          # 张老师, 文学院
HEAD = "li_dean"             # 李院长, head of 文学院
HR_HEAD = "hr_chen"          # 陈处长, head of 人事处
LEADER = "vp_wu"             # 吴副校长, in charge of 文学院


async def fill_leave(sim: Sim, days: str, *, start: str = "明天") -> str:
    await sim.say(TEACHER, "我要请假")
    await sim.say(TEACHER, "病假")
    await sim.say(TEACHER, start)
    await sim.say(TEACHER, days)
    await sim.say(TEACHER, "发烧就医，需在家休息")
    await sim.say(TEACHER, "无")
    await sim.say(TEACHER, "否")
    return await sim.text(TEACHER, "13800000000")


async def test_one_question_at_a_time_with_numbered_choices(sim: Sim) -> None:
    first = await sim.text(TEACHER, "我要请假")
    assert "教职工请销假审批" in first
    assert "1. 事假" in first and "2. 病假" in first
    assert "例如" in first
    second = await sim.text(TEACHER, "2")
    assert "开始日期" in second and "请假类型" not in second


async def test_wrong_answer_reprompts_and_keeps_earlier_answers(sim: Sim) -> None:
    await sim.say(TEACHER, "我要请假")
    await sim.say(TEACHER, "事假")
    wrong_date = await sim.text(TEACHER, "过几天吧")
    assert "没看懂这个日期" in wrong_date
    assert "明天" in wrong_date and "下周一" in wrong_date      # says what is expected
    await sim.say(TEACHER, "12月7日")
    wrong_days = await sim.text(TEACHER, "很多天")
    assert "数字" in wrong_days
    too_many = await sim.text(TEACHER, "500")
    assert "180" in too_many
    await sim.say(TEACHER, "3")
    await sim.say(TEACHER, "家中有事需要处理")
    await sim.say(TEACHER, "否")
    summary = await sim.text(TEACHER, "13800000000")
    assert "请假类型：事假" in summary
    assert "2026年12月7日" in summary
    assert "请假天数：3天" in summary


async def test_back_goes_to_previous_question_and_keeps_the_rest(sim: Sim) -> None:
    await sim.say(TEACHER, "我要请假")
    await sim.say(TEACHER, "事假")
    await sim.say(TEACHER, "明天")
    back = await sim.text(TEACHER, "返回")
    assert "开始日期" in back
    assert "原来填的是" in back
    again = await sim.text(TEACHER, "后天")
    assert "请假天数" in again
    await sim.say(TEACHER, "1")
    await sim.say(TEACHER, "家中有事需要处理")
    await sim.say(TEACHER, "否")
    summary = await sim.text(TEACHER, "13800000000")
    assert "2026年11月28日" in summary            # 后天 from Thursday 26 November
    assert "请假类型：事假" in summary


async def test_edit_an_answer_from_the_summary(sim: Sim) -> None:
    await fill_leave(sim, "2")
    edit = await sim.text(TEACHER, "修改 3")
    assert "请假天数" in edit and "原来填的是：2天" in edit
    summary = await sim.text(TEACHER, "5")
    assert "请假天数：5天" in summary
    assert "人事处审核" in summary                  # the route follows the new answer


async def test_cancel_discards_the_dialog(sim: Sim) -> None:
    await sim.say(TEACHER, "我要请假")
    await sim.say(TEACHER, "事假")
    cancelled = await sim.text(TEACHER, "取消")
    assert "已取消" in cancelled
    mine = await sim.text(TEACHER, "我的申请")
    assert "还没有提交过申请" in mine


async def test_help_says_what_can_be_said_now(sim: Sim) -> None:
    await sim.say(TEACHER, "我要请假")
    await sim.say(TEACHER, "事假")
    help_text = await sim.text(TEACHER, "帮助")
    assert "开始日期" in help_text and "返回" in help_text and "取消" in help_text


async def test_submit_names_the_next_approver_and_sends_a_card(sim: Sim) -> None:
    await fill_leave(sim, "2")
    submitted = await sim.text(TEACHER, "确认")
    assert "已提交" in submitted and "李院长" in submitted
    card = await sim.card_for(HEAD)
    assert card["title"] == "张老师的教职工请销假审批"
    assert [b["text"] for b in card["buttons"]] == ["同意", "驳回", "退回修改", "转交", "加签"]
    assert ["请假类型", "病假"] in card["facts"]
    assert ["请假时间", "11月27日–11月28日，2天"] in card["facts"]


async def test_approval_tells_the_teacher(sim: Sim) -> None:
    await fill_leave(sim, "2")
    await sim.say(TEACHER, "确认")
    card = await sim.card_for(HEAD)
    replies = await sim.tap(HEAD, card["card_key"], "approve")
    assert any(r["type"] == "card_update" and "已同意" in r["status"] for r in replies)
    told = [m["text"] for m in await sim.inbox(TEACHER) if m["type"] == "text"]
    assert any("李院长已同意" in t for t in told)
    assert "已同意（未开始）" in await sim.text(TEACHER, "我的申请")     # it starts tomorrow
    sim.advance(days=1)
    assert "待销假" in await sim.text(TEACHER, "我的申请")


async def test_rejection_asks_for_a_reason_and_passes_it_on(sim: Sim) -> None:
    await fill_leave(sim, "2")
    await sim.say(TEACHER, "确认")
    card = await sim.card_for(HEAD)
    asked = await sim.tap(HEAD, card["card_key"], "reject")
    assert "驳回理由" in asked[0]["text"]
    done = await sim.text(HEAD, "期末考试周，请调整时间")
    assert "已驳回" in done
    told = "\n".join(m["text"] for m in await sim.inbox(TEACHER) if m["type"] == "text")
    assert "驳回" in told and "期末考试周，请调整时间" in told
    assert "已驳回" in await sim.text(TEACHER, "我的申请")


async def test_a_reason_typed_with_the_command_again_is_passed_on_without_it(sim: Sim) -> None:
    await fill_leave(sim, "2")
    await sim.say(TEACHER, "确认")
    card = await sim.card_for(HEAD)
    await sim.tap(HEAD, card["card_key"], "reject")
    number = card["application_id"]
    assert "已驳回" in await sim.text(HEAD, f"驳回 {number} 请先去校医院开具诊断证明")
    told = "\n".join(m["text"] for m in await sim.inbox(TEACHER) if m["type"] == "text")
    assert "理由：请先去校医院开具诊断证明" in told
    assert "驳回 " not in told.split("理由：")[1]


async def test_a_bare_agree_acts_on_the_one_waiting_card_and_asks_which_of_several(
        sim: Sim) -> None:
    assert "没有待您处理" in await sim.text(HEAD, "同意")
    await fill_leave(sim, "2")
    await sim.say(TEACHER, "确认")
    await sim.card_for(HEAD)
    assert "已同意" in await sim.text(HEAD, "同意")
    told = "\n".join(m["text"] for m in await sim.inbox(TEACHER) if m["type"] == "text")
    assert "已同意" in told
    for _ in range(2):
        await fill_leave(sim, "2", start="后天")
        await sim.say(TEACHER, "确认")
    which = await sim.text(HEAD, "同意")
    assert "2 项" in which and "同意 编号" in which


async def test_five_days_go_to_hr_after_the_department_head(sim: Sim) -> None:
    await fill_leave(sim, "5")
    await sim.say(TEACHER, "确认")
    card = await sim.card_for(HEAD)
    await sim.tap(HEAD, card["card_key"], "approve")
    assert not [m for m in await sim.inbox(LEADER) if m["type"] == "card"]
    hr_card = await sim.card_for(HR_HEAD)
    await sim.tap(HR_HEAD, hr_card["card_key"], "approve")
    told = "\n".join(m["text"] for m in await sim.inbox(TEACHER) if m["type"] == "text")
    assert "陈处长已同意" in told and "销假" in told


async def test_more_than_seven_days_also_go_to_the_leader_in_charge(sim: Sim) -> None:
    await fill_leave(sim, "10")
    summary = await sim.text(TEACHER, "帮助")
    assert "确认" in summary
    await sim.say(TEACHER, "确认")
    for approver in (HEAD, HR_HEAD, LEADER):
        card = await sim.card_for(approver)
        await sim.tap(approver, card["card_key"], "approve")
    assert "已同意（未开始）" in await sim.text(TEACHER, "我的申请")     # it starts tomorrow


async def test_pending_lists_what_waits_for_the_approver(sim: Sim) -> None:
    await fill_leave(sim, "2")
    await sim.say(TEACHER, "确认")
    tasks = await sim.text(HEAD, "待办")
    assert "张老师的教职工请销假审批" in tasks
    assert "同意 1" in tasks or "同意 编号" in tasks


async def test_report_back_after_the_leave_ends(sim: Sim) -> None:
    await fill_leave(sim, "2")
    await sim.say(TEACHER, "确认")
    card = await sim.card_for(HEAD)
    await sim.tap(HEAD, card["card_key"], "approve")
    await sim.inbox(TEACHER)
    sim.advance(days=2)                                  # back on Saturday, after the leave
    closed = await sim.text(TEACHER, "销假")
    assert "已销假" in closed
    assert "已批准" in await sim.text(TEACHER, "我的申请")
    head_told = [m["text"] for m in await sim.inbox(HEAD) if m["type"] == "text"]
    assert any("张老师已于" in t and "销假" in t for t in head_told)


async def test_the_same_approver_is_not_asked_twice(sim: Sim) -> None:
    # 许老师 works in 人事处: her department head is also the head of 人事处
    clerk = "hr_xu"
    await sim.say(clerk, "我要请假")
    for answer in ("事假", "明天", "5", "家中老人住院需要陪护", "否", "13800000000"):
        await sim.say(clerk, answer)
    submitted = await sim.text(clerk, "确认")
    assert "陈处长" in submitted
    card = await sim.card_for(HR_HEAD)
    await sim.tap(HR_HEAD, card["card_key"], "approve")
    assert not [m for m in await sim.inbox(HR_HEAD) if m["type"] == "card"]
    told = "\n".join(m["text"] for m in await sim.inbox(clerk) if m["type"] == "text")
    assert "自动通过" in told and "销假" in told
