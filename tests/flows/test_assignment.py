"""Stand-ins for approvers the directory lacks, on a school's own directory with its gaps
(tests/data/qinglan_directory.toml): a school leader's approval is never collapsed into a
subordinate's or into the previous approver's, and a head applying to their own unit goes up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flows.catalog import DEFAULT_CATALOG
from flows.loader import read_flow_files
from storage.models import Application, ApprovalTask
from tests.conftest import Sim
from tests.flows.walker import pending_tasks, submit

DEFINITIONS = {d.name: d for d in read_flow_files(DEFAULT_CATALOG)[0]}
ADMIN = "T2001"                       # 蔡主任, IT office
HR_HEAD = "T1301"                     # 许处长, head of 人事部 (the notice's 人事处)
SECRETARY = "T1201"                   # 黄部长, head of 党委组织部


async def leave(sim: Sim, user: str, days: int) -> str:
    await sim.say(user, "办理 教职工请销假审批")
    for answer in ("事假", "下周一", str(days), "家中有事需要回去处理", "否"):
        await sim.say(user, answer)
    return await sim.text(user, "13800000000")


async def approve(sim: Sim, application: Application) -> tuple[str, list[dict[str, Any]]]:
    """The one pending task is approved by its approver; (approver, what they got back —
    a next card of theirs among it)."""
    [task] = await pending_tasks(application.id)
    return task.approver_id, await sim.tap(task.approver_id, task.card_key, "approve")


async def test_a_long_leave_reaches_a_school_leader_although_the_unit_has_none(
        qinglan_sim: tuple[Sim, Path]) -> None:
    """审计处 has no 分管校领导: the 10-day leave of its 袁老师 goes to 人事部's 分管校领导, not
    to 许处长 again (he approved the step before) and never silently past the leader level."""
    sim, _ = qinglan_sim
    summary = await leave(sim, "T2202", 10)
    assert "分管校领导审批（吴书记，代为处理）" in summary
    assert "许处长，代为处理" not in summary
    assert "已提交" in await sim.text("T2202", "确认")
    application = await Application.get(applicant_id="T2202")
    assert (await approve(sim, application))[0] == "T2201"           # 董处长, 审计处
    assert (await approve(sim, application))[0] == HR_HEAD
    [task] = await pending_tasks(application.id)
    assert task.approver_id == "L0002" and task.stage_id == "leader"
    card = await sim.card_for("L0002")
    assert "代为处理：审计处：未设置分管校领导" in card["subtitle"]
    notice = " ".join(m.get("text", "") for m in await sim.inbox(ADMIN))
    assert "已暂由吴书记（人事部的分管校领导）代为处理" in notice
    await approve(sim, application)
    assert "自动通过" not in " ".join(m.get("text", "") for m in await sim.inbox("T2202"))


async def test_a_stand_in_who_approves_again_is_asked_again(
        qinglan_sim: tuple[Sim, Path]) -> None:
    """教学质量监督处 has no head: 许处长 stands in for it, then is asked again as the head of
    人事部 — a 5-day leave is not approved by one tap."""
    sim, _ = qinglan_sim
    summary = await leave(sim, "T1102Q", 5)
    assert "部门负责人审批（许处长，代为处理） → 人事处审核（许处长）" in summary
    await sim.text("T1102Q", "确认")
    application = await Application.get(applicant_id="T1102Q")
    [first] = [m["subtitle"] for m in await sim.inbox(HR_HEAD) if m["type"] == "card"]
    assert "代为处理：教学质量监督处：未设置负责人（您作为人事部负责人）" in first
    approver, replies = await approve(sim, application)
    assert approver == HR_HEAD
    [task] = await pending_tasks(application.id)
    assert task.approver_id == HR_HEAD and task.stage_id == "hr_head"
    [again] = [m["subtitle"] for m in replies if m["type"] == "card"]
    assert "人事处审核" in again and "您在前一环节是代为处理，本环节请再次审核" in again
    assert "自动通过" not in " ".join(m.get("text", "") for m in await sim.inbox("T1102Q"))


async def test_without_a_head_the_leader_of_the_leadership_is_never_a_subordinate(
        qinglan_sim: tuple[Sim, Path]) -> None:
    """The 校领导 department names no head or leader: a vice-president's leave goes to a
    school leader (吴书记, 分管校领导 of the flow's 党委组织部), not to the 组织部部长, and the
    administrators read what to fix in words, without TOML keys."""
    sim, _ = qinglan_sim
    application = await submit(sim, DEFINITIONS["校领导个人外出请销假"], "L0003")
    [task] = await pending_tasks(application.id)
    assert task.approver_id == "L0002" and task.approver_id != SECRETARY
    notice = " ".join(m.get("text", "") for m in await sim.inbox(ADMIN))
    assert "通讯录缺失：校领导：未设置主要负责人（校长）。" in notice
    assert "已暂由吴书记（党委组织部的分管校领导）代为处理" in notice
    assert "leader" not in notice


async def test_a_head_applying_to_his_own_unit_goes_up_and_is_told_truly(
        qinglan_sim: tuple[Sim, Path]) -> None:
    """董处长 heads 审计处 (no 分管校领导) and applies to 审计处 itself: his stages go to a
    school leader, and nobody is told that 审计处 has no head."""
    sim, _ = qinglan_sim
    application = await submit(sim, DEFINITIONS["工程预算审核申请"], "T2201")
    [task] = await pending_tasks(application.id)
    assert task.approver_id == "L0001" and task.stage_id == "dept_head"   # 周校长
    told = " ".join(m.get("text", "") for m in [*await sim.inbox(ADMIN),
                                                 *await sim.inbox("T2201")])
    assert "审计处：负责人是申请人本人，且未设置分管校领导" in told
    assert "负责人也找不到" not in told and "待分配" not in told
    assert await ApprovalTask.filter(application_id=application.id,
                                     approver_id="T2201").count() == 0


async def test_the_history_says_in_words_who_stands_in_and_why(
        qinglan_sim: tuple[Sim, Path]) -> None:
    sim, _ = qinglan_sim
    await leave(sim, "T2202", 10)
    await sim.say("T2202", "确认")
    application = await Application.get(applicant_id="T2202")
    await approve(sim, application)
    await approve(sim, application)                 # now at the leader stage, a stand-in's
    history = await sim.text("T2202", f"查看 {application.id}")
    assert "assign_" not in history
    assert "审计处：未设置分管校领导，暂由吴书记代为处理" in history
