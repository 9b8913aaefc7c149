"""A bad flow file gets an error naming the file and the field — every problem at once."""

from __future__ import annotations

from pathlib import Path

from bot.services import action_registry
from flows.catalog import DEFAULT_CATALOG, check_flows
from flows.problems import Problem

REFERENCE = (DEFAULT_CATALOG / "staff_leave.toml").read_text(encoding="utf-8")


async def problems_of(tmp_path: Path, text: str, name: str = "staff_leave.toml") -> list[str]:
    (tmp_path / name).write_text(text, encoding="utf-8")
    _, problems = await check_flows(tmp_path, action_registry())
    return [str(p) for p in problems]


def only(problems: list[str], where: str) -> list[str]:
    return [p for p in problems if where in p]


async def test_the_reference_file_is_clean(tmp_path: Path) -> None:
    assert await problems_of(tmp_path, REFERENCE) == []


async def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    problems = await problems_of(tmp_path, "[flow\nid = ")
    assert len(problems) == 1 and "staff_leave.toml" in problems[0] and "TOML" in problems[0]


async def test_missing_notice_elements(tmp_path: Path) -> None:
    text = REFERENCE.replace('phone = "0000-0000000（示例）"\n', "").replace(
        "time_limit_days = 3\n", "")
    problems = await problems_of(tmp_path, text)
    assert only(problems, "contact.phone") and "缺少通知要求的要素" in only(
        problems, "contact.phone")[0]
    assert only(problems, "flow.time_limit_days")


async def test_unknown_field_type_is_named_with_the_choices(tmp_path: Path) -> None:
    problems = await problems_of(tmp_path, REFERENCE.replace('type = "date"', 'type = "dat"'))
    [problem] = only(problems, "fields[1].type")
    assert "staff_leave.toml" in problem and "'dat'" in problem and "date_range" in problem


async def test_conditions_naming_unknown_fields(tmp_path: Path) -> None:
    problems = await problems_of(tmp_path, REFERENCE.replace('when = "days > 3"',
                                                             'when = "day > 3"'))
    [problem] = only(problems, "stages[1].when")
    assert "'day'" in problem


async def test_approvers_the_directory_lacks_are_no_file_problem(tmp_path: Path) -> None:
    """Who approves is the directory's business (campusbot directory check), not the file's."""
    text = REFERENCE.replace('approver = "head_of:人事处"', 'approver = "head_of:不存在的处"')
    text = text.replace('approver = "leader_in_charge"', 'approver = "role:astronaut"')
    assert await problems_of(tmp_path, text) == []


async def test_malformed_approvers_and_fallbacks(tmp_path: Path) -> None:
    text = REFERENCE.replace('approver = "head_of:人事处"', 'approver = "head_of:"').replace(
        'approver = "leader_in_charge"', 'approver = "role:IT运维"').replace(
        'time_limit_days = 3\n', 'time_limit_days = 3\nfallback = "boss_of:人事处"\n', 1)
    problems = await problems_of(tmp_path, text)
    assert "head_of:" in only(problems, "stages[1].approver")[0]
    assert "role:<角色代码>" in only(problems, "stages[2].approver")[0]
    assert "boss_of" in only(problems, "flow.fallback")[0]


async def test_unreachable_states(tmp_path: Path) -> None:
    problems = await problems_of(tmp_path, REFERENCE.replace('when = "days > 7"',
                                                             'when = "1 > 2"'))
    assert only(problems, "states.stage_leader")
    assert "无法到达" in only(problems, "states.stage_leader")[0]


async def test_unknown_keys_and_actions(tmp_path: Path) -> None:
    text = REFERENCE.replace('example = "病假"', 'example = "病假"\ncolour = "red"').replace(
        'type = "phone"', 'type = "phone"\ncheck = "no_such_check"')
    problems = await problems_of(tmp_path, text)
    assert only(problems, "fields[0].colour")
    assert "no_such_check" in only(problems, "fields[7].check")[0]


async def test_every_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    text = REFERENCE.replace('type = "date"', 'type = "dat"').replace(
        'approver = "head_of:人事处"', 'approver = "chief"')
    (tmp_path / "other.toml").write_text("[flow]\nid = 'Other'\n", encoding="utf-8")
    problems = await problems_of(tmp_path, text)
    files = {p.split(":")[0] for p in problems}
    assert len(files) == 2 and len(problems) >= 4


def test_problem_reads_file_then_field() -> None:
    assert str(Problem(Path("a.toml"), "fields[2].type", "未知")) == "a.toml: fields[2].type: 未知"


async def test_every_stage_is_described_by_a_guide_step(tmp_path: Path) -> None:
    text = REFERENCE.replace('stage = "hr_head"\n', "").replace('stage = "leader"',
                                                                 'stage = "boss"')
    problems = await problems_of(tmp_path, text)
    assert "'hr_head'" in only(problems, "stages[1]")[0]
    assert "'boss'" in only(problems, "steps[3].stage")[0]
