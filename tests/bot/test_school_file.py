"""A school's own directory file, written exactly as the README documents it (its own
department codes, job numbers as user ids, no `staff` role): every guide is answered, every
chat flow goes to the school's people; the file is applied when it changes, without a restart;
the demo directory is refused beside a real channel."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import keys
from bot.app import create_app
from bot.clock import FixedClock
from bot.config import Settings
from flows.catalog import DEFAULT_CATALOG
from flows.loader import read_flow_files
from handlers import replies
from storage.directory_file import DirectoryFileError
from storage.models import Application, ApprovalTask
from tests.conftest import Sim, wipe_database
from tests.flows.walker import submit

README_FILE = Path(__file__).parents[1] / "data" / "school_directory.toml"


@pytest.fixture
async def school_sim(settings_factory: Callable[..., Settings], clock: FixedClock,
                     database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Sim, Path]]:
    path = tmp_path / "directory.toml"
    path.write_text(README_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    await wipe_database(database_url)
    settings = settings_factory(directory={"file": str(path)})
    app = create_app(settings, clock=clock, background=False)
    async with TestClient(TestServer(app)) as client:
        yield Sim(client, clock), path


async def test_an_edited_file_is_applied_and_a_broken_one_refused(
        school_sim: tuple[Sim, Path], caplog: pytest.LogCaptureFixture) -> None:
    sim, path = school_sim
    jobs = sim.client.app[keys.JOBS]
    assert await sim.text("20020009", "我的申请") == replies.NOT_IN_DIRECTORY
    newcomer = '\n[[users]]\nid = "20020009"\nname = "新老师"\ndepartment = "wxy"\n' \
               'roles = ["teacher"]\n'
    path.write_text(path.read_text(encoding="utf-8") + newcomer, encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="campusbot.directory"):
        await jobs.watch_directory()
    assert "您还没有提交过申请" in await sim.text("20020009", "我的申请")
    # the directory check runs after the change: one summary line in the log
    assert "通讯录检查：18 个部门、39 人；38 个在线流程全部可以派单" in caplog.text
    with caplog.at_level(logging.ERROR, logger="campusbot.directory"):
        path.write_text(path.read_text(encoding="utf-8") + '\n[[users]]\nname = "无名"\n',
                        encoding="utf-8")
        await jobs.watch_directory()
    assert f"{path}: users[" in caplog.text and ".id: 缺少必填项" in caplog.text
    assert "您还没有提交过申请" in await sim.text("20020009", "我的申请")   # still in force


TEACHER = "20020002"        # 水老师, 文学院 (wxy)
DEFINITIONS = {d.name: d for d in read_flow_files(DEFAULT_CATALOG)[0]}


async def approvers_of(application_id: int) -> list[str]:
    return [t.approver_id for t in
            await ApprovalTask.filter(application_id=application_id).order_by("id")]


async def test_leave_goes_to_the_schools_own_people(school_sim: tuple[Sim, Path]) -> None:
    sim, _ = school_sim
    for answer in ("我要请假", "事假", "明天", "10", "家中有事需要回去处理", "否", "13800000000"):
        await sim.say(TEACHER, answer)
    assert "已提交" in await sim.text(TEACHER, "确认")
    application = await Application.get(applicant_id=TEACHER)
    for approver in ("20020001", "20010031"):              # 柏院长 (wxy), 沈处长 (人事处)
        await sim.tap(approver, (await sim.card_for(approver))["card_key"], "approve")
    assert "金副校长" in await sim.text(TEACHER, "我的申请")  # 分管校领导 of 文学院
    assert await approvers_of(application.id) == ["20020001", "20010031", "19880005"]


async def test_a_unit_found_by_its_alias(school_sim: tuple[Sim, Path]) -> None:
    """The school's 信息化建设与管理中心 is the flow file's 信息与公共实验管理中心."""
    sim, _ = school_sim
    application = await submit(sim, DEFINITIONS["IT报修"], TEACHER)
    assert await approvers_of(application.id) == ["20010132"]   # its it_support


async def test_every_guide_is_answered(school_sim: tuple[Sim, Path]) -> None:
    sim, _ = school_sim
    for user in (TEACHER, "2024010101"):                         # a teacher and a student
        for name in DEFINITIONS:
            answer = await sim.text(user, f"{name}怎么办理")
            assert answer.startswith(f"【{name}】"), (user, name, answer[:80])


async def test_a_student_without_staff_and_a_teacher_apply_for_their_own_flows(
        school_sim: tuple[Sim, Path]) -> None:
    sim, _ = school_sim
    student = await submit(sim, DEFINITIONS["学生请假审批"], "2024010101")
    assert await approvers_of(student.id) == ["20020003"]       # 窦老师, the counselor
    refused = await sim.text("2024010101", "办理 教职工请销假审批")
    assert "不能申请" in refused
    assert await Application.filter(applicant_id="2024010101").count() == 1


async def test_the_demo_directory_is_refused_beside_wecom(
        settings_factory: Callable[..., Settings], clock: FixedClock) -> None:
    wecom = {"enabled": True, "corp_id": "ww1", "agent_id": 1000002, "secret": "s",
             "token": "t", "encoding_aes_key": "a" * 43, "api_base": "http://127.0.0.1:9"}
    server = TestServer(create_app(settings_factory(wecom=wecom, simulator={"enabled": False}),
                                   clock=clock, background=False))
    with pytest.raises(DirectoryFileError) as refused:
        await server.start_server()
    await server.close()
    message = str(refused.value)
    assert "演示数据" in message and "campusbot directory sync" in message
    assert "allow_demo = true" in message
    trial = settings_factory(wecom=wecom, directory={"allow_demo": True},
                             simulator={"enabled": False})
    async with TestClient(TestServer(create_app(trial, clock=clock, background=False))) as ok:
        assert (await ok.get("/healthz")).status == 200
