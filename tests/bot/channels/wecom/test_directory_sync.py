"""`campusbot directory sync` and the first-contact lookup: departments, leaders, members and
role tags from WeCom's contacts API, keeping what WeCom does not know."""

from __future__ import annotations

from typing import Any

import pytest

from bot.channels.wecom.directory_sync import DirectorySync, department_kind, role_of_tag
from handlers import replies
from storage import identities
from storage.directory import DatabaseDirectory
from storage.directory_file import parse_directory
from storage.directory_store import apply_directory_file
from storage.models import Department, OutboxMessage, Person
from tests.bot.channels.wecom.conftest import Bot

DEPARTMENTS = [
    {"id": 1, "name": "示范大学", "parentid": 0, "department_leader": []},
    {"id": 2, "name": "文学院", "parentid": 1, "department_leader": ["w_dean", "w_vice"]},
    {"id": 3, "name": "人事处", "parentid": 1, "department_leader": ["h_head"]},
    {"id": 4, "name": "校领导", "parentid": 1, "department_leader": ["w_pres"]},
]


def member(userid: str, name: str, departments: list[int], **extra: Any) -> dict[str, Any]:
    return {"userid": userid, "name": name, "department": departments,
            "main_department": departments[0], "position": extra.pop("position", ""),
            "status": extra.pop("status", 1), **extra}


MEMBERS = {m["userid"]: m for m in (
    member("w_dean", "王院长", [2], position="院长"),
    member("w_vice", "吴副院长", [2]),
    member("w_t1", "周老师", [2], position="讲师"),
    member("h_head", "郑处长", [3, 2], main_department=3),
    member("w_pres", "钱校长", [4]),
    member("w_left", "离职的人", [2], status=5),
)}
TAGS = [
    {"tagid": 1, "tagname": "教师", "users": ["w_t1", "w_dean"]},
    {"tagid": 2, "tagname": "中层干部", "parties": [3]},
    {"tagid": 3, "tagname": "role:club_leader", "users": ["w_t1"]},
    {"tagid": 4, "tagname": "足球队", "users": ["w_t1"]},
]


class Recorder:
    def __init__(self) -> None:
        self.units = 0
        self.steps = 0

    def total(self, units: int) -> None:
        self.units = units

    def step(self) -> None:
        self.steps += 1


@pytest.fixture
def org(bot: Bot) -> Bot:
    bot.fake.departments = [dict(d) for d in DEPARTMENTS]
    bot.fake.members.update({k: dict(v) for k, v in MEMBERS.items()})
    bot.fake.tags = TAGS
    return bot


async def test_sync_fills_departments_leaders_members_and_roles(org: Bot) -> None:
    progress = Recorder()
    report = await DirectorySync(org.channel.client).run(progress)
    assert (report.departments, report.roles) == (4, ["cadre", "club_leader", "teacher"])
    assert progress.units == progress.steps == 2 * 4 + 3
    lit = await Department.get(id="2")
    assert (lit.name, lit.head_id, lit.parent_id, lit.kind, lit.source) == (
        "文学院", "w_dean", "1", "college", "wecom")
    assert (await Department.get(id="4")).kind == "leadership"
    teacher = await Person.get(id="w_t1")
    assert (teacher.name, teacher.department_id, teacher.title) == ("周老师", "2", "讲师")
    assert sorted(teacher.roles) == ["club_leader", "teacher"]
    assert teacher.roles_text == ",club_leader,teacher,"
    head = await Person.get(id="h_head")
    assert head.department_id == "3" and head.roles == ["cadre"]       # via the tag's party
    assert (await Person.get(id="w_vice")).roles == []                  # no role tag
    assert "staff" in (await DatabaseDirectory().person("w_vice")).roles  # implied: not a student
    assert not (await Person.get(id="w_left")).active


async def test_what_the_file_gives_survives_every_sync_and_leavers_are_deactivated(
        org: Bot) -> None:
    school = parse_directory({
        "departments": [{"name": "文学院", "leader": "w_pres", "aliases": ["人文学院"]}],
        "users": [{"id": "w_vice", "roles": ["counselor"], "title": "辅导员"}]}, "school.toml")
    await apply_directory_file(school)
    directory = DatabaseDirectory()
    for _ in range(2):
        await DirectorySync(org.channel.client).run()
        lit = await directory.department_named("人文学院")
        assert (lit.id, lit.name, lit.head, lit.leader) == ("2", "文学院", "w_dean", "w_pres")
        vice = await directory.person("w_vice")
        assert {"counselor", "staff"} <= set(vice.roles) and vice.title == "辅导员"
    del org.fake.members["w_t1"]
    report = await DirectorySync(org.channel.client).run()
    assert report.deactivated == 1
    assert not (await Person.get(id="w_t1")).active
    assert await directory.person("w_t1") is None


async def test_an_unknown_user_is_looked_up_on_first_contact(org: Bot) -> None:
    assert await Person.get_or_none(id="w_t1") is None
    answer = await org.say("w_t1", "帮助")
    assert "我可以帮您" in answer[0]
    person = await Person.get(id="w_t1")
    assert (person.name, person.department_id) == ("周老师", "2")
    assert sorted(person.roles) == ["club_leader", "teacher"]
    assert (await Department.get(id="2")).name == "文学院"
    assert org.fake.count("user/get") == 1
    assert await identities.person_of("wecom", "w_t1") == "w_t1"   # the account is linked
    await org.say("w_t1", "我的申请")                       # known now: no second lookup
    assert org.fake.count("user/get") == 1


async def test_someone_wecom_does_not_know_is_told_whom_to_contact(org: Bot) -> None:
    await org.wecom.text("stranger", "你好")
    await org.settle()
    row = await OutboxMessage.get(user_id="stranger")
    assert row.payload["text"] == replies.NOT_IN_DIRECTORY
    assert row.status == "failed" and "81013" in row.last_error   # WeCom cannot reach them


def test_tags_and_kinds() -> None:
    assert role_of_tag("教师") == "teacher" and role_of_tag(" 辅导员 ") == "counselor"
    assert role_of_tag("teacher") == "teacher" and role_of_tag("role:club_leader") == "club_leader"
    assert role_of_tag("足球队") is None and role_of_tag("role:不行") is None
    assert department_kind("数学与统计学院") == "college"
    assert department_kind("附属中学") == "affiliated"
    assert department_kind("保卫处") == "office"
