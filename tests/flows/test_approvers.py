"""Approvers resolved by unit name against the school's own directory, and the fallback when
the directory lacks someone."""

from __future__ import annotations

import pytest

from flows.approvers import ApproverNotFound, resolve_approvers
from flows.assignment import assign
from flows.catalog import DEFAULT_CATALOG
from flows.definition import Approver
from flows.loader import parse_approver, read_flow_files
from storage.directory import PersonInfo
from storage.directory_file import parse_directory
from storage.directory_snapshot import DirectorySnapshot, file_alone

SCHOOL = {
    "departments": [
        {"id": "wxy", "name": "文学院", "kind": "college", "head": "1001", "leader": "0002"},
        {"id": "rsc", "name": "人事处", "head": "2001", "leader": "0002",
         "aliases": ["人力资源处"]},
        {"id": "sjc", "name": "审计处", "head": "3001"},
        {"id": "xld", "name": "校领导", "kind": "leadership", "head": "0001"},
        {"id": "xxy", "name": "新学院", "kind": "college"},
    ],
    "users": [
        {"id": "0001", "name": "钱校长", "department": "xld", "roles": ["school_leader"]},
        {"id": "0002", "name": "吴副校长", "department": "xld", "roles": ["school_leader"]},
        {"id": "1001", "name": "王院长", "department": "wxy", "roles": ["teacher", "cadre"]},
        {"id": "1002", "name": "周老师", "department": "wxy", "roles": ["teacher"]},
        {"id": "2001", "name": "郑处长", "department": "rsc", "roles": ["cadre"]},
        {"id": "3001", "name": "孙处长", "department": "sjc", "roles": ["cadre"]},
        {"id": "3002", "name": "审计员小李", "department": "sjc", "roles": ["audit_clerk"]},
        {"id": "5001", "name": "葛同学", "department": "wxy", "roles": ["student"]},
        {"id": "5002", "name": "奚同学", "department": "xxy", "roles": ["student"],
         "counselor": "1002"},
    ],
}


def school() -> DirectorySnapshot:
    return file_alone(parse_directory(SCHOOL, "school.toml"))


async def who(spec: str, applicant: str = "1002") -> list[str]:
    directory = school()
    approver = parse_approver(spec)
    assert approver is not None
    person = await directory.person(applicant)
    assert person is not None
    return [p.id for p in await resolve_approvers(approver, person, directory)]


async def gap_of(spec: str, applicant: str = "1002") -> str:
    try:
        await who(spec, applicant)
    except ApproverNotFound as exc:
        return str(exc)
    raise AssertionError(f"{spec} resolved")


async def test_units_are_found_by_name_then_alias_whatever_their_ids() -> None:
    assert await who("head_of:人事处") == ["2001"]
    assert await who("head_of:人力资源处") == ["2001"]
    assert await who("leader_in_charge_of:人事处") == ["0002"]
    assert await who("department_head") == ["1001"]
    assert await who("leader_in_charge") == ["0002"]
    assert await who("role:audit_clerk") == ["3002"]


async def test_nobody_approves_their_own_request() -> None:
    assert await who("department_head", applicant="1001") == ["0002"]   # head → leader in charge
    assert await who("leader_in_charge", applicant="0002") == ["0001"]  # a leader → 校长


async def test_what_is_missing_is_said_in_words() -> None:
    assert await gap_of("leader_in_charge_of:审计处") == "审计处：未设置分管校领导"
    assert await gap_of("head_of:资产管理处") == "通讯录中没有名为“资产管理处”的部门"
    assert await gap_of("role:it_support") == "没有人担任 IT运维（it_support）"
    assert await gap_of("counselor") == "周老师没有登记辅导员"


async def test_a_missing_school_leader_is_stood_in_for_by_a_school_leader() -> None:
    definitions = {d.id: d for d in read_flow_files(DEFAULT_CATALOG)[0]}
    directory = school()
    teacher = await directory.person("1002")
    budget = definitions["budget_audit"]                 # 审计处; 审计处 has no leader in charge
    leader_stage = next(s for s in budget.stages if s.approver.form == "leader_in_charge_of")
    assignment = await assign(budget, leader_stage, teacher, directory)
    # not the head of 审计处 (a subordinate): the school's leadership, its head first
    assert [p.id for p in assignment.people] == ["0001"] and assignment.via_fallback
    assert assignment.standing_in() == "审计处：未设置分管校领导，暂由校领导处理"


async def test_an_unresolvable_stage_goes_to_the_head_of_the_flows_unit() -> None:
    definitions = {d.id: d for d in read_flow_files(DEFAULT_CATALOG)[0]}
    directory = school()
    budget = definitions["budget_audit"]                 # 审计处
    clerk = budget.stage_by_id("clerk")
    without_clerk = file_alone(parse_directory(
        {**SCHOOL, "users": [u for u in SCHOOL["users"] if u["id"] != "3002"]}, "school.toml"))
    assignment = await assign(budget, clerk, await directory.person("1002"), without_clerk)
    assert [p.id for p in assignment.people] == ["3001"] and assignment.via_fallback
    assert assignment.standing_in() == "没有人担任 审计员（audit_clerk），暂由审计处负责人处理"


async def test_a_head_applying_to_his_own_unit_goes_up_and_is_not_called_missing() -> None:
    definitions = {d.id: d for d in read_flow_files(DEFAULT_CATALOG)[0]}
    directory = school()
    budget = definitions["budget_audit"]                 # 审计处, whose head applies
    head = await directory.person("3001")
    for stage in (budget.stage_by_id("dept_head"), budget.stage_by_id("head")):
        assignment = await assign(budget, stage, head, directory)
        assert [p.id for p in assignment.people] == ["0001"] and assignment.via_fallback
        assert assignment.gap is not None
        assert assignment.gap.text() == "审计处：负责人是申请人本人，且未设置分管校领导"
        assert "也找不到" not in assignment.standing_in()


async def test_nobody_at_all_leaves_the_stage_waiting() -> None:
    definitions = {d.id: d for d in read_flow_files(DEFAULT_CATALOG)[0]}
    repair = definitions["it_repair"]        # its unit 信息与公共实验管理中心 is not in this school
    directory = school()
    assignment = await assign(repair, repair.stages[0], await directory.person("1002"),
                              directory)
    assert assignment.nobody and assignment.gap is not None
    assert assignment.fallback_gap is not None
    assert "信息与公共实验管理中心" in assignment.fallback_gap.text()


async def test_an_applicant_gone_from_the_directory_still_reaches_the_fallback() -> None:
    definitions = {d.id: d for d in read_flow_files(DEFAULT_CATALOG)[0]}
    leave = definitions["staff_leave"]                   # 人事处
    ghost = PersonInfo("9999", "离职的人", None)
    assignment = await assign(leave, leave.stages[0], ghost, school())
    assert [p.id for p in assignment.people] == ["2001"] and assignment.via_fallback


async def test_the_flows_own_fallback_comes_before_the_head_of_its_unit() -> None:
    leave = {d.id: d for d in read_flow_files(DEFAULT_CATALOG)[0]}["student_leave"]   # 保卫处
    directory = school()
    counselor, college = leave.stage_by_id("counselor"), leave.stage_by_id("college")
    no_counselor = await assign(leave, counselor, await directory.person("5001"), directory)
    assert [p.id for p in no_counselor.people] == ["1001"]       # the student's college head
    assert no_counselor.standing_in() == "葛同学没有登记辅导员，暂由申请人所在部门负责人处理"
    # 新学院 has no head: the flow's fallback fails too, then the head of 保卫处 is tried
    headless = await assign(leave, college, await directory.person("5002"), directory)
    assert headless.nobody and [str(a) for a in headless.tried] == [
        "department_head", "head_of:保卫处", "leader_in_charge_of:保卫处"]
    assert headless.fallback_gap is not None
    assert headless.fallback_gap.text() == "通讯录中没有名为“保卫处”的部门"


async def test_the_leadership_needs_a_head_for_its_members_and_a_leader_for_the_head() -> None:
    """校领导: the head (校长) approves the other school leaders, its leader the 校长 — said in
    words, never with the file's keys."""
    assert await who("leader_in_charge", "0002") == ["0001"]       # 吴副校长 → 钱校长
    assert await gap_of("leader_in_charge", "0001") == \
        "校领导：未指定审批校长本人申请的校领导（通常是党委书记）"
    headless = {**SCHOOL, "departments": [
        {**d, "head": ""} if d["id"] == "xld" else d for d in SCHOOL["departments"]]}
    directory = file_alone(parse_directory(headless, "school.toml"))
    vice = await directory.person("0002")
    assert vice is not None
    with pytest.raises(ApproverNotFound, match=r"^校领导：未设置主要负责人（校长）$"):
        await resolve_approvers(Approver("leader_in_charge"), vice, directory)
