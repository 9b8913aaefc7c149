"""Sample contact data is never shown as if real (outsider3 F9): the short guide marks it, and
an applicant waiting for a missing approver is pointed at the office, not at a sample phone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.clock import FixedClock
from bot.config import Settings
from flows.catalog import DEFAULT_CATALOG
from flows.loader import read_flow_files
from tests.conftest import Sim, wipe_database

TEACHER = "zhang_t"
OUTSIDER_DIRECTORY = Path(__file__).parents[1] / "data" / "outsider3_directory.toml"
AUDIT_HEAD = "T2201"        # 董处长: 审计处 has a head but no 分管校领导 in that directory
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


async def test_the_schools_own_contact_is_not_marked(
        settings_factory: Callable[..., Settings], clock: FixedClock, database_url: str,
        tmp_path: Path) -> None:
    school = tmp_path / "contacts.toml"
    school.write_text(SCHOOL, encoding="utf-8")
    await wipe_database(database_url)
    app = create_app(settings_factory(flows={"overrides": str(school)}), clock=clock,
                     background=False)
    async with TestClient(TestServer(app)) as client:
        sim = Sim(client, clock)
        line = handled_line(await sim.text(TEACHER, "教职工请销假审批怎么办理"))
        assert "劳资科" in line and "示例" not in line
        assert "（示例）" in handled_line(await sim.text(TEACHER, "IT报修怎么办理"))


async def test_an_applicant_waiting_for_an_approver_is_not_given_a_sample_phone(
        settings_factory: Callable[..., Settings], clock: FixedClock,
        database_url: str) -> None:
    await wipe_database(database_url)
    settings = settings_factory(directory={"file": str(OUTSIDER_DIRECTORY)})
    app = create_app(settings, clock=clock, background=False)
    async with TestClient(TestServer(app)) as client:
        sim = Sim(client, clock)
        for answer in ("办理 工程预算审核申请", "图书馆屋面防水维修工程", "维修改造工程", "85万",
                       "学校自有资金"):
            await sim.say(AUDIT_HEAD, answer)
        await client.post("/sim/api/messages",
                          json={"user": AUDIT_HEAD, "file": {"name": "预算.zip"}})
        for answer in ("董处长", "13800000000"):
            await sim.say(AUDIT_HEAD, answer)
        submitted = await sim.text(AUDIT_HEAD, "确认")
        assert "已提交《工程预算审核申请》" in submitted
        assert "请联系审计处" in submitted
        assert "0000-0000000" not in submitted and "示例" not in submitted
