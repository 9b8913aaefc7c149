"""A trip told in one's own words leads to the leave process the asker can apply for."""

from __future__ import annotations

import pytest

from tests.conftest import Sim

TEACHER = "zhang_t"          # 张老师, an ordinary teacher
VICE_DEAN = "lit_vdean"      # a 副院长 (cadre)
DEPT_HEAD = "li_dean"        # 李院长
SCHOOL_LEADER = "vp_wu"      # 吴副校长


async def test_a_teachers_business_trip_leads_to_the_staff_leave(sim: Sim) -> None:
    reply = await sim.text(TEACHER, "我下周去上海出差三天")
    assert "教职工请销假审批" in reply
    assert "请回复序号" not in reply        # not a list of processes she cannot apply for


@pytest.mark.parametrize("sentence", ["我下周去上海出差三天", "下周要外出4天", "我要出差"])
async def test_a_trip_never_offers_only_processes_the_asker_cannot_apply_for(
        sim: Sim, sentence: str) -> None:
    reply = await sim.text(TEACHER, sentence)
    assert "教职工请销假审批" in reply
    assert "不能在线申请" not in reply and "不能申请" not in reply


async def test_a_teachers_wish_to_travel_starts_the_staff_leave_as_a_business_trip(
        sim: Sim) -> None:
    reply = await sim.text(TEACHER, "我下周一要去上海出差，请假3天")
    assert "开始办理《教职工请销假审批》" in reply
    assert "请假类型：因公外出" in reply and "请假天数：3天" in reply


@pytest.mark.parametrize(("user", "process"), [
    (VICE_DEAN, "干部个人外出请销假"),
    (DEPT_HEAD, "部门主要负责人个人外出请销假"),
    (SCHOOL_LEADER, "校领导个人外出请销假"),
])
async def test_the_same_trip_fits_each_cadre_role(sim: Sim, user: str, process: str) -> None:
    reply = await sim.text(user, "我下周去上海出差三天")
    assert process in reply and "请回复序号" not in reply


async def test_a_school_leaders_trip_with_its_purpose_first_is_found(sim: Sim) -> None:
    reply = await sim.text(SCHOOL_LEADER, "我下周去教育部汇报工作，外出4天")
    assert "校领导个人外出请销假" in reply
    assert "没有找到" not in reply


async def test_the_group_outing_guide_says_the_unit_head_applies_for_the_group(
        sim: Sim) -> None:
    guide = await sim.text(VICE_DEAN, "领导干部集体外出请销假怎么办理")
    assert guide.startswith("【领导干部集体外出请销假】")
    assert "部门主要负责人" in guide and "统一申请" in guide
