"""Sample contact data is never shown as if real (outsider3 F9): the short guide marks it, and
an applicant waiting for a missing approver is pointed at the office, not at a sample phone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.clock import FixedClock
from bot.config import Settings
from flows.catalog import DEFAULT_CATALOG
from flows.loader import read_flow_files
from tests.conftest import Sim, wipe_database
from tests.flows.walker import fill_in

TEACHER = "zhang_t"
SMALL_SCHOOL = """
[[departments]]
id = "lit"
name = "文学院"
kind = "college"
head = "d1"

[[users]]
id = "d1"
name = "李院长"
department = "lit"

[[users]]
id = "t1"
name = "张老师"
department = "lit"
roles = ["teacher"]
"""
SCHOOL = """
["教职工请销假审批".contact]
section = "劳资科"
person = "许芳"
phone = "0571-8888 1234"
"""


def handled_line(reply: str) -> str:
    return next(line for line in reply.split("\n") if line.startswith("负责："))


async def test_the_short_guide_marks_a_sample_contact(sim: Sim) -> None:
    shipped = {d.name: d for d in read_flow_files(DEFAULT_CATALOG)[0]}
    assert shipped["教职工请销假审批"].contact.sample and shipped["IT报修"].contact.sample
    for question in ("教职工请销假审批怎么办理", "IT报修怎么办理", "OA系统怎么办理"):
        assert "（示例）" in handled_line(await sim.text(TEACHER, question)), question


SchoolServer = Callable[[str, str], AbstractAsyncContextManager[Sim]]


@pytest.fixture
def school_server(settings_factory: Callable[..., Settings], clock: FixedClock,
                  database_url: str, tmp_path: Path) -> SchoolServer:
    """`school_server(setting, text)`: a running server on a fresh database whose setting
    ("section.key") names a file holding `text`."""
    @asynccontextmanager
    async def start(setting: str, text: str) -> AsyncIterator[Sim]:
        section, key = setting.split(".")
        school = tmp_path / f"{section}.toml"
        school.write_text(text, encoding="utf-8")
        await wipe_database(database_url)
        app = create_app(settings_factory(**{section: {key: str(school)}}), clock=clock,
                         background=False)
        async with TestClient(TestServer(app)) as client:
            yield Sim(client, clock)
    return start


async def test_the_schools_own_contact_is_not_marked(school_server: SchoolServer) -> None:
    async with school_server("flows.overrides", SCHOOL) as sim:
        line = handled_line(await sim.text(TEACHER, "教职工请销假审批怎么办理"))
        assert "劳资科" in line and "示例" not in line
        assert "（示例）" in handled_line(await sim.text(TEACHER, "IT报修怎么办理"))


async def test_an_applicant_waiting_for_an_approver_is_not_given_a_sample_phone(
        school_server: SchoolServer) -> None:
    repair = {d.name: d for d in read_flow_files(DEFAULT_CATALOG)[0]}["后勤报修流程"]
    assert repair.contact.sample
    # a school without 后勤基建处 and its repair staff: nobody at all can take a repair
    async with school_server("directory.file", SMALL_SCHOOL) as sim:
        await fill_in(sim, repair, "t1")
        submitted = await sim.text("t1", "确认")
    assert "已提交《后勤报修流程》" in submitted and "暂时找不到办理人" in submitted
    assert "请联系后勤基建处" in submitted
    assert repair.contact.phone not in submitted and "示例" not in submitted
