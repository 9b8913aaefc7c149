"""Asking the bot in one's own words, through the simulator: the guide, the numbered choice,
the honest "don't know", the asker's role, and applying straight from a sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.catalog import DEFAULT_CATALOG
from flows.definition import FlowDefinition
from flows.loader import read_flow_files
from tests.conftest import Sim

TEACHER = "zhang_t"          # 张老师, 文学院
STUDENT = "stu_liu"
DEPT_HEAD = "li_dean"        # 李院长, head of 文学院
SCHOOL_LEADER = "vp_wu"      # 吴副校长


def flow(name: str) -> FlowDefinition:
    return next(d for d in read_flow_files(DEFAULT_CATALOG)[0] if d.name == name)


async def test_a_question_gets_a_short_guide_then_details_and_contact(sim: Sim) -> None:
    reply = await sim.text(TEACHER, "电脑坏了找谁修")
    repair = flow("IT报修")
    lines = reply.split("\n")
    assert lines[0] == "【IT报修】" and len(lines) <= 8
    assert repair.unit in reply and "2 个工作日" in reply
    assert "材料：" in reply and "回复“办理”开始申请" in reply
    assert "详情" in reply and "联系方式" in reply and "流程图" in reply
    details = await sim.text(TEACHER, "详情")
    for step in repair.steps:
        assert step.title in details
        for material in step.materials:
            assert material in details
    contact = repair.contact
    card = await sim.text(TEACHER, "联系方式")
    for element in (contact.section, contact.post, contact.person, contact.address,
                    contact.phone, contact.email):
        assert element in card


async def test_every_guide_summary_fits_a_phone_screen() -> None:
    from flows.guide import guide_summary

    for definition in read_flow_files(DEFAULT_CATALOG)[0]:
        summary = guide_summary(definition)
        assert len(summary.split("\n")) <= 8, definition.name
        if definition.platform is not None:
            assert definition.platform.url in summary and "登录" in summary


async def test_guide_commands_name_their_process_or_say_there_is_none(sim: Sim) -> None:
    for command in ("流程图", "详情", "联系方式"):
        reply = await sim.text(TEACHER, command)
        assert len(reply.split("\n")) == 1 and "哪个事项" in reply
    named = await sim.say(TEACHER, "录播教室申请流程图")
    assert named[0]["type"] == "image" and "录播教室申请" in named[0]["caption"]
    contact = await sim.text(TEACHER, "IT报修联系方式")
    assert flow("IT报修").contact.phone in contact


async def test_flowchart_and_apply_after_a_guide(sim: Sim) -> None:
    await sim.text(TEACHER, "录播教室怎么借")
    replies = await sim.say(TEACHER, "流程图")
    assert replies[0]["type"] == "image"
    assert "录播教室申请" in replies[0]["caption"]
    started = await sim.text(TEACHER, "办理")
    assert "开始办理《录播教室申请》" in started


@pytest.mark.parametrize(("user", "process"), [
    (TEACHER, "教职工请销假审批"),
    (STUDENT, "学生请假审批"),
    (DEPT_HEAD, "部门主要负责人个人外出请销假"),
    (SCHOOL_LEADER, "校领导个人外出请销假"),
])
async def test_i_want_leave_starts_the_process_that_fits_the_asker(sim: Sim, user: str,
                                                                   process: str) -> None:
    reply = await sim.text(user, "我要请假")
    assert f"开始办理《{process}》" in reply


async def test_a_sentence_fills_in_what_it_says_and_asks_only_the_rest(sim: Sim) -> None:
    reply = await sim.text(TEACHER, "我想请3天病假")
    assert "开始办理《教职工请销假审批》" in reply
    assert "请假类型：病假" in reply and "请假天数：3天" in reply
    assert "请填写开始日期" in reply
    assert "请填写请假类型" not in reply
    after_date = await sim.text(TEACHER, "明天")
    assert "请假事由" in after_date and "请假天数" not in after_date
    await sim.say(TEACHER, "发烧就医，需在家休息")
    await sim.say(TEACHER, "无")
    await sim.say(TEACHER, "否")
    summary = await sim.text(TEACHER, "13800000000")
    assert "请假类型：病假" in summary and "请假天数：3天" in summary
    assert "2026年11月27日" in summary


async def test_an_intent_to_apply_for_a_repair_starts_it_with_the_kind_filled(sim: Sim) -> None:
    reply = await sim.text(TEACHER, "我要报修电脑")
    assert "开始办理《IT报修》" in reply
    assert "故障类型：电脑" in reply or "电脑" in reply.split("\n")[1]


async def test_unsure_between_processes_lists_them_numbered_and_a_number_picks_one(
        sim: Sim) -> None:
    reply = await sim.text(TEACHER, "采购")
    lines = reply.split("\n")
    assert "请回复序号" in lines[0]
    numbered = [line for line in lines if line[:2] in {f"{n}." for n in range(1, 6)}]
    assert len(numbered) >= 2
    chosen = next(line for line in numbered if "货物及服务采购申请" in line)
    guide = await sim.text(TEACHER, chosen.split(".")[0])
    assert guide.startswith("【货物及服务采购申请】")


async def test_a_numbered_choice_after_an_intent_to_apply_starts_the_flow(sim: Sim) -> None:
    reply = await sim.text(TEACHER, "我要采购")
    assert "请回复序号" in reply
    number = next(line.split(".")[0] for line in reply.split("\n")
                  if "货物及服务采购申请" in line)
    started = await sim.text(TEACHER, number)
    assert "开始办理《货物及服务采购申请》" in started


@pytest.mark.parametrize("question", ["今天食堂吃什么", "讲个笑话", "明天会下雨吗"])
async def test_questions_outside_the_catalog_are_declined_in_a_few_lines(sim: Sim,
                                                                        question: str) -> None:
    reply = await sim.text(TEACHER, question)
    lines = reply.split("\n")
    assert len(lines) <= 4
    assert "没有找到" in lines[0]
    assert "【" not in reply and "开始办理" not in reply
    assert reply.count("“") >= 3            # two or three example questions, and 我要办理
    assert "我要办理" in reply
    listed = await sim.text(TEACHER, "我要办理")
    assert "请选择部门" in listed


async def test_someone_who_may_not_apply_gets_the_guide_and_the_reason(sim: Sim) -> None:
    reply = await sim.text(STUDENT, "我要申请教育网邮箱")
    assert reply.startswith("【教育网邮箱申请】")
    assert "不能在线申请" in reply
    assert "开始办理" not in reply


async def test_a_question_about_another_audiences_process_shows_its_guide(sim: Sim) -> None:
    reply = await sim.text(TEACHER, "学生请假在哪里办")
    assert reply.startswith("【学生请假审批】")
    assert "不能在线申请" in reply


async def test_an_external_platform_is_answered_with_its_address(sim: Sim) -> None:
    reply = await sim.text(TEACHER, "我要登录OA")
    assert reply.startswith("【OA系统】")
    assert "网址：" in reply and "开始办理" not in reply


@pytest.mark.parametrize(("user", "question", "process"), [
    (TEACHER, "老师请假怎么走流程", "教职工请销假审批"),              # approval
    (TEACHER, "新开的公众号要备案吗", "新媒体公共账号备案"),           # filing
    ("chen_c", "发现学生心理异常怎么上报", "学生心理健康状况报送"),    # report
    (TEACHER, "实验剧院怎么借", "实验剧院申请"),                      # booking
    (TEACHER, "宿舍水管漏水找谁修", "后勤报修流程"),                  # service
    (TEACHER, "工资条在哪里查", "人事综合管理与服务平台"),            # platform
])
async def test_every_kind_of_process_is_answered_by_its_exact_name(sim: Sim, user: str,
                                                                  question: str,
                                                                  process: str) -> None:
    reply = await sim.text(user, question)
    assert reply.startswith(f"【{process}】")
    assert flow(process).contact.phone in await sim.text(user, "联系方式")


async def test_the_schools_own_unit_names_are_shown_and_found(
        qinglan_sim: tuple[Sim, Path]) -> None:
    """青岚 calls the notice's 人事处 人事部, its 科研处 科学研究处, its 资产管理处
    国有资产管理处 (the notice's names are aliases): users read and type the school's names."""
    sim, _ = qinglan_sim
    teacher, student = "T3003", "S20240101"
    units = await sim.text(teacher, "我要办理")
    assert "人事部" in units and "科学研究处" in units and "国有资产管理处" in units
    assert ". 人事处\n" not in units and ". 科研处\n" not in units
    assert "人事部的办事事项" in await sim.text(teacher, "人事部")   # picked by its own name
    guide = await sim.text(student, "教职工请销假审批怎么办理")
    assert "负责：人事部" in guide and "如有疑问请联系人事部。" in guide
    assert "负责单位：人事部" in await sim.text(student, "联系方式")
    asked = await sim.text(teacher, "人事部的电话多少")
    assert asked.startswith("人事部的办事事项") and "教职工请销假审批" in asked
    assert "联系方式" in asked
    number = next(line.split(".")[0] for line in asked.splitlines()
                  if line.endswith(". 教职工请销假审批") or ". 教职工请销假审批" in line)
    assert "【教职工请销假审批】" in await sim.text(teacher, number)
