"""A school that syncs from WeCom (numeric department ids, 部门负责人 from department_leader,
roles from the tags 教师/学生/辅导员, no 分管校领导) plus a small school file, as the issue's
example: every guide is answered and every chat flow routed to the school's own people; what
the directory lacks goes to a fallback, is marked, told to the administrator and named by
`directory check`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot import keys
from bot.channels.wecom.directory_sync import DirectorySync
from bot.cli_directory import directory_report
from bot.clock import FixedClock
from bot.config import Settings
from flows.catalog import DEFAULT_CATALOG
from flows.definition import FlowDefinition
from flows.loader import read_flow_files
from storage.models import Application, ApprovalTask, AssignmentIssue
from tests.bot.channels.wecom.conftest import AES_KEY, TOKEN, Bot, start_bot, wecom_section
from tests.conftest import wipe_database
from tests.fakes.wecom import FakeWecom
from tests.fakes.wecom_callbacks import WecomCallbacks

# the kind of file a school writes beside the sync (README, "The directory")
SCHOOL_FILE = """
[[departments]]
name = "文学院"
leader = "WuHua"          # 分管校领导: WeCom does not know it

[[users]]
id = "ZhaoLei"
counselor = "ChenYu"      # a student's 辅导员
"""

TEACHER, DEAN, HR_HEAD, VICE_PRESIDENT = "ZhouJie", "WangJun", "ZhengLi", "WuHua"
STUDENT, COUNSELOR, IT_HEAD, ADMIN = "ZhaoLei", "ChenYu", "MaQiang", "LiuXin"
DEFINITIONS = {d.name: d for d in read_flow_files(DEFAULT_CATALOG)[0]}


def build_school(fake: FakeWecom) -> None:
    """The school as its WeCom administrator set it up."""
    fake.members.clear()
    fake.departments.clear()
    fake.tags.clear()
    fake.add_department(1, "江南大学", parent=0)
    fake.add_department(2, "校领导", leaders=["QianMing"])
    fake.add_department(3, "人事处", leaders=[HR_HEAD])
    fake.add_department(4, "文学院", leaders=[DEAN])
    fake.add_department(5, "信息与公共实验管理中心", leaders=[IT_HEAD])
    fake.add_department(6, "审计处", leaders=["SunTao"])
    for userid, name, department, position in (
            ("QianMing", "钱校长", 2, "校长"), (VICE_PRESIDENT, "吴副校长", 2, "副校长"),
            (HR_HEAD, "郑处长", 3, "处长"), ("XuFang", "许老师", 3, "考勤"),
            (DEAN, "王院长", 4, "院长"), (TEACHER, "周老师", 4, "讲师"),
            (COUNSELOR, "陈老师", 4, "辅导员"), (STUDENT, "赵同学", 4, ""),
            (IT_HEAD, "马主任", 5, "主任"), (ADMIN, "刘老师", 5, "系统管理员"),
            ("SunTao", "孙处长", 6, "处长")):
        fake.add_member(userid, name, department, position=position)
    fake.add_tag(1, "教师", users=[DEAN, TEACHER, COUNSELOR])
    fake.add_tag(2, "学生", users=[STUDENT])
    fake.add_tag(3, "辅导员", users=[COUNSELOR])


@pytest.fixture
def school_settings(settings_factory: Callable[..., Settings], fake_wecom: FakeWecom,
                    tmp_path: Path) -> Settings:
    path = tmp_path / "school.toml"
    path.write_text(SCHOOL_FILE, encoding="utf-8")
    return settings_factory(wecom=wecom_section(fake_wecom.url),  # type: ignore[attr-defined]
                            simulator={"enabled": False}, directory={"file": str(path)},
                            admin={"users": [ADMIN]})


@pytest.fixture
async def school(school_settings: Settings, clock: FixedClock, database_url: str,
                 fake_wecom: FakeWecom) -> AsyncIterator[Bot]:
    await wipe_database(database_url)
    build_school(fake_wecom)
    app, client = await start_bot(school_settings, clock, fake_wecom)
    callbacks = WecomCallbacks(fake_wecom, str(client.make_url("/wecom/callback")),
                               token=TOKEN, encoding_aes_key=AES_KEY)
    bot = Bot(app, client, callbacks, fake_wecom, clock)
    bot.api_timeout(5)
    await DirectorySync(bot.channel.client).run()
    try:
        yield bot
    finally:
        fake_wecom.release()
        await callbacks.close()
        await client.close()


async def fill_in(bot: Bot, user: str, definition: FlowDefinition, start: str) -> Application:
    """Start with `start` and answer each question with the field's example, then confirm."""
    await bot.say(user, start)
    for _ in range(30):
        application = await Application.filter(applicant_id=user).order_by("-id").first()
        assert application is not None, f"no dialog started: {bot.fake.texts(user)[-2:]}"
        if application.state == "confirm":
            await bot.say(user, "确认")
            return await Application.get(id=application.id)
        field = definition.field_by_key(application.state.removeprefix("ask_"))
        await bot.say(user, "无" if field.type == "attachment" else field.example)
    raise AssertionError(f"{definition.name}: the dialog did not reach the summary")


async def approve(bot: Bot, user: str) -> None:
    card = bot.fake.cards_to(user)[-1]
    tap = await bot.wecom.tap(user, card.task_id, "approve")
    assert tap.statuses == [200]
    await bot.settle()


async def stage_approvers(application_id: int) -> list[tuple[str, str]]:
    return [(t.stage_id, t.approver_id) for t in
            await ApprovalTask.filter(application_id=application_id).order_by("id")]


async def leave(bot: Bot, days: str) -> Application:
    for answer in ("我要请假", "事假", "明天", days, "家中有事需要回去处理", "否"):
        await bot.say(TEACHER, answer)
    await bot.say(TEACHER, "13800000000")
    submitted = await bot.say(TEACHER, "确认")
    assert "已提交" in submitted[0], submitted
    return await Application.filter(applicant_id=TEACHER).order_by("-id").first()


@pytest.mark.parametrize(("days", "chain"), [
    ("2", [("dept_head", DEAN)]),
    ("5", [("dept_head", DEAN), ("hr_head", HR_HEAD)]),
    ("10", [("dept_head", DEAN), ("hr_head", HR_HEAD), ("leader", VICE_PRESIDENT)]),
])
async def test_leave_goes_to_the_wecom_leaders_then_the_leader_the_file_names(
        school: Bot, days: str, chain: list[tuple[str, str]]) -> None:
    application = await leave(school, days)
    for _, approver in chain:
        await approve(school, approver)
    assert await stage_approvers(application.id) == chain
    application = await Application.get(id=application.id)
    assert application.status == "followup"                 # approved, waiting for 销假
    assert not await AssignmentIssue.exists()               # nothing needed a fallback


async def test_student_leave_goes_to_the_counselor_the_file_names(school: Bot) -> None:
    application = await fill_in(school, STUDENT, DEFINITIONS["学生请假审批"], "我要请假")
    assert application.status == "pending"
    assert await stage_approvers(application.id) == [("counselor", COUNSELOR)]


async def test_every_guide_is_answered(school: Bot) -> None:
    for name in DEFINITIONS:
        school.clock.advance(timedelta(seconds=3))   # within WeCom's 30 messages a minute
        answer = await school.say(TEACHER, f"{name}怎么办理")
        assert answer and f"【{name}】" in answer[0], (name, answer)


async def test_a_post_role_nobody_holds(school: Bot, school_settings: Settings) -> None:
    repair = DEFINITIONS["IT报修"]
    # the guide is answered
    assert "【IT报修】" in (await school.say(TEACHER, "电脑坏了找谁修"))[0]
    # the application goes to the fallback (the head of the flow's unit) and is marked
    application = await fill_in(school, TEACHER, repair, "办理 IT报修")
    assert await stage_approvers(application.id) == [(repair.stages[0].id, IT_HEAD)]
    issue = await AssignmentIssue.get(application_id=application.id)
    assert (issue.state, issue.gap) == ("fallback", "没有人担任 IT运维（it_support）")
    assert any("暂由您代为处理（没有人担任 IT运维（it_support））" in t
               for t in school.fake.texts(IT_HEAD))
    told = [t for t in school.fake.texts(ADMIN) if "没有人担任 IT运维（it_support）" in t]
    assert len(told) == 1 and "IT报修" in told[0] and "马主任" in told[0]
    # a second application with the same gap does not tell the administrator again
    await fill_in(school, TEACHER, repair, "办理 IT报修")
    assert len([t for t in school.fake.texts(ADMIN) if "IT运维" in t]) == 1
    # `directory check` names the gap
    report = await directory_report(school_settings)
    assert not report.ok
    [finding] = [f.text().splitlines()[0] for f in report.findings if "IT运维" in f.gap]
    assert finding.startswith("没有人担任 IT运维（it_support）：IT报修")
    assert finding.endswith("无法派单，暂由信息与公共实验管理中心负责人处理")
    # the role given to someone (a WeCom tag named with its label), the next one goes to them
    school.fake.add_member("LinGong", "林工", 5, position="运维工程师")
    school.fake.add_tag(9, "IT运维", users=["LinGong"])
    await DirectorySync(school.channel.client).run()
    application = await fill_in(school, TEACHER, repair, "办理 IT报修")
    assert await stage_approvers(application.id) == [(repair.stages[0].id, "LinGong")]
    assert not await AssignmentIssue.exists(application_id=application.id)


async def test_nobody_at_all_keeps_the_application_until_the_directory_is_fixed(
        school: Bot) -> None:
    repair = DEFINITIONS["后勤报修流程"]       # role:repair_staff in 后勤基建处: neither exists
    application = await fill_in(school, TEACHER, repair, "办理 后勤报修流程")
    assert application.status == "pending"
    assert await stage_approvers(application.id) == []
    told = "\n".join(school.fake.texts(TEACHER)[-2:])
    assert "暂时找不到办理人" in told and "申请已保留" in told
    assert "请联系后勤基建处" in told                        # whom to contact meanwhile …
    assert repair.contact.phone not in told                 # … never a sample phone
    issue = await AssignmentIssue.get(application_id=application.id)
    assert issue.state == "waiting"
    assert "暂无办理人" in (await school.say(TEACHER, "我的申请"))[0]
    assert any("后勤报修流程" in t and "自动送达" in t for t in school.fake.texts(ADMIN))
    # the school adds the unit in WeCom; the next directory change assigns the stage
    school.fake.add_department(7, "后勤基建处", leaders=["CaoJun"])
    school.fake.add_member("CaoJun", "曹处长", 7, position="处长")
    await DirectorySync(school.channel.client).run()
    await school.app[keys.JOBS].watch_directory()
    await school.settle()
    assert await stage_approvers(application.id) == [(repair.stages[0].id, "CaoJun")]
    assert (await AssignmentIssue.get(id=issue.id)).state == "assigned"
    assert "已找到办理人" in school.fake.texts(TEACHER)[-1]
    assert school.fake.cards_to("CaoJun")
