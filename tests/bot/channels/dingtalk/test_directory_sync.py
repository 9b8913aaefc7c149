"""Directory sync from DingTalk's contacts, with the school's file over it: members matched to
the file's people by job number or mobile, 部门主管 as heads, 分管校领导 from the file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.channels.base import ChannelContext
from bot.channels.dingtalk.setup import PLUGIN
from bot.clock import FixedClock
from bot.config import Settings
from bot.flowcharts import Flowcharts
from bot.services import load_directory
from storage import identities
from storage.db import close_db, init_db
from storage.directory_store import load_snapshot
from storage.models import Person
from tests.bot.channels.dingtalk.conftest import dingtalk_section
from tests.conftest import wipe_database
from tests.fakes.dingtalk import FakeDingtalk

SCHOOL_FILE = """
[[departments]]
name = "文学院"
leader = "T0007"            # 分管校领导: DingTalk does not know it

[[users]]
id = "T0007"
name = "吴副校长"
department = "校领导"

[[users]]
id = "20190001"
name = "张伟"
job_number = "20190001"

[[users]]
id = "20050012"
name = "李院长"
mobile = "138-0000-0012"

[[departments]]
name = "校领导"
kind = "leadership"
"""


@pytest.fixture
async def synced(settings_factory: Callable[..., Settings], fake_dingtalk: FakeDingtalk,
                 clock: FixedClock, database_url: str, tmp_path: Path) -> AsyncIterator[
                     Settings]:
    await wipe_database(database_url)
    school = tmp_path / "school.toml"
    school.write_text(SCHOOL_FILE, encoding="utf-8")
    settings = settings_factory(dingtalk=dingtalk_section(fake_dingtalk.url),
                                simulator={"enabled": False}, directory={"file": str(school)})
    fake_dingtalk.add_department(2, "文学院", managers=["0452"])
    fake_dingtalk.add_department(3, "中文系", parent=2)
    fake_dingtalk.add_user("0451", "张老师", [3], job_number="20190001", title="讲师")
    fake_dingtalk.add_user("0452", "李院长", [2], mobile="+86 13800000012", title="院长")
    for n in range(130):      # more than a page of 100
        fake_dingtalk.add_user(f"s{n:03d}", f"学生{n}", [3])
    await init_db(database_url)
    await load_directory(settings)
    runtime = PLUGIN.build(ChannelContext(settings=settings, clock=clock,
                                          flows=lambda _: None, flowcharts=Flowcharts()))
    assert runtime.sync is not None
    steps: list[int] = []

    class Progress:
        def total(self, units: int) -> None:
            steps.append(-units)

        def step(self) -> None:
            steps.append(1)

    result = await runtime.sync(Progress())
    await load_directory(settings)
    assert result.departments == 3 and result.linked == 132
    assert -steps[0] == steps.count(1) == 6
    try:
        yield settings
    finally:
        await runtime.close()
        await close_db()


async def test_members_are_matched_to_the_school_s_people(synced: Settings) -> None:
    assert await identities.person_of("dingtalk", "0451") == "20190001"    # by job number
    assert await identities.person_of("dingtalk", "0452") == "20050012"    # by mobile
    assert await identities.address("dingtalk", "20190001") == "0451"
    assert await identities.person_of("dingtalk", "s042") == "s042"        # a new person
    # a member nobody matched is added as a person of the sync
    assert (await Person.get(id="s042")).source == "dingtalk"


async def test_the_file_overlays_the_synced_departments(synced: Settings) -> None:
    snapshot = await load_snapshot()
    college = snapshot.named("文学院")
    assert college is not None
    assert college.head == "20050012"          # 部门主管 from DingTalk, as the school's person
    assert college.leader == "T0007"           # 分管校领导 from the file
    assert college.kind == "college"
    teacher = snapshot.people_by_id["20190001"]
    assert teacher.name == "张伟"               # the file's name wins
    assert teacher.department == "dingtalk-3"  # the department only DingTalk knows
    assert snapshot.departments_by_id["dingtalk-3"].parent == college.id


async def test_members_no_longer_listed_are_deactivated(
        synced: Settings, fake_dingtalk: FakeDingtalk, clock: FixedClock) -> None:
    del fake_dingtalk.users["s001"]
    runtime = PLUGIN.build(ChannelContext(settings=synced, clock=clock,
                                          flows=lambda _: None, flowcharts=Flowcharts()))
    assert runtime.sync is not None
    result = await runtime.sync(None)
    await runtime.close()
    assert result.deactivated == 1 and result.linked == 0
    assert not (await Person.get(id="s001")).active


async def test_a_member_writing_before_the_sync_is_looked_up_and_linked(
        settings_factory: Callable[..., Settings], fake_dingtalk: FakeDingtalk,
        clock: FixedClock, database_url: str, tmp_path: Path) -> None:
    from tests.bot.channels.dingtalk.conftest import start_bot

    await wipe_database(database_url)
    school = tmp_path / "school.toml"
    school.write_text(SCHOOL_FILE, encoding="utf-8")
    fake_dingtalk.add_department(2, "文学院", managers=["0452"])
    fake_dingtalk.add_user("0451", "张老师", [2], job_number="20190001")
    settings = settings_factory(dingtalk=dingtalk_section(fake_dingtalk.url),
                                simulator={"enabled": False}, directory={"file": str(school)})
    bot = await start_bot(settings, clock, fake_dingtalk)
    try:
        replies = await bot.say("0451", "我的申请")
        assert replies and "开通" not in replies[0]
        assert await identities.person_of("dingtalk", "0451") == "20190001"
        assert (await Person.get(id="20190001")).department_id == "dingtalk-2"
        # someone DingTalk does not know either gets the polite answer
        stranger = await bot.say("0999", "你好")
        assert "开通" in stranger[0]
        assert await identities.person_of("dingtalk", "0999") is None
    finally:
        await bot.client.close()
