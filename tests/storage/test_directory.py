"""The directory file and how it composes with a synced directory: errors name the file and the
entry; units are found by name or alias; implied roles; the file adds to what a sync gives."""

from __future__ import annotations

import pytest

from storage.directory import DepartmentInfo, PersonInfo
from storage.directory_file import DirectoryFileError, parse_directory, read_directory_file
from storage.directory_snapshot import compose, file_alone


async def test_the_demo_directory_alone_has_the_people_the_flows_need() -> None:
    directory = file_alone(read_directory_file("demo"))
    assert (await directory.person("zhang_t")).name == "张老师"
    assert (await directory.department("lit")).head == "li_dean"
    assert (await directory.person("stu_liu")).counselor == "chen_c"
    assert directory.problems == ()


async def test_implied_roles_follow_from_the_directory() -> None:
    directory = file_alone(read_directory_file("demo"))
    roles = {p.id: set(p.roles) for p in directory.everyone()}
    assert {"teacher", "staff"} <= roles["zhang_t"]               # every non-student: 教职工
    assert "staff" not in roles["stu_liu"]
    assert {"dept_head", "cadre", "staff"} <= roles["li_dean"]     # head of 文学院
    assert {"affiliated_head", "cadre"} <= roles["aff_principal"]  # head of an affiliated unit
    assert "dept_head" not in roles["aff_principal"]
    assert "school_leader" in roles["vp_wu"]                      # member of 校领导
    assert "dept_head" not in roles["pres_zhao"]                  # heads 校领导, not a department
    assert [p.id for p in await directory.with_role("it_support")] == ["it_xu"]


def test_every_bad_entry_is_named() -> None:
    document = {
        "departments": [{"id": "lit", "name": "文学院", "kind": "faculty"}, {"head": "x"},
                        {"name": "文学院", "leaders": "vp"}],
        "users": [{"name": "甲"}, {"id": "b", "name": "乙", "roles": "teacher"},
                  {"id": "b", "title": 3}],
        "people": [],
    }
    with pytest.raises(DirectoryFileError) as error:
        parse_directory(document, "school.toml")
    message = str(error.value)
    for where in ("departments[0].kind", "departments[1]: 需要 name", "departments[2].leaders",
                  "users[0].id", "users[1].roles", "users[2].title", "school.toml: people"):
        assert where in message, where
    assert all(line.startswith("school.toml") for line in message.splitlines())


def test_the_same_id_twice_is_named() -> None:
    with pytest.raises(DirectoryFileError, match=r"users\[1\]: 与 users\[0\] 重复"):
        parse_directory({"users": [{"id": "a", "name": "甲"}, {"id": "a", "name": "乙"}]},
                        "school.toml")


def test_a_missing_file_is_named() -> None:
    with pytest.raises(DirectoryFileError, match=r"nowhere\.toml"):
        read_directory_file("/tmp/nowhere.toml")


async def test_people_are_found_by_id_or_name() -> None:
    directory = file_alone(read_directory_file("demo"))
    assert [p.id for p in await directory.find("zhang_t")] == ["zhang_t"]
    assert [p.id for p in await directory.find("李院长")] == ["li_dean"]
    assert {p.id for p in await directory.find("院长")} >= {"li_dean", "math_dean"}


SYNCED_DEPARTMENTS = [DepartmentInfo("2", "文学院", "college", head="w_dean"),
                      DepartmentInfo("3", "人事部", "office", head="h_head"),
                      DepartmentInfo("9", "校领导", "leadership", head="w_pres")]
SYNCED_PEOPLE = [PersonInfo("w_dean", "王院长", "2", ("teacher",)),
                 PersonInfo("h_head", "郑处长", "3"),
                 PersonInfo("w_pres", "钱校长", "9"),
                 PersonInfo("vp_wu", "吴副校长", "9"),
                 PersonInfo("zhao_s", "赵同学", "2", ("student",)),
                 PersonInfo("chen_c", "陈老师", "2", ("counselor",))]
SCHOOL_FILE = {
    "departments": [{"name": "文学院", "leader": "vp_wu"},
                    {"name": "人事部", "aliases": ["人事处"]},
                    {"id": "board", "name": "校董会", "kind": "office", "head": "w_pres"}],
    "users": [{"id": "zhao_s", "counselor": "chen_c"},
              {"id": "h_head", "roles": ["it_support"], "title": "处长"},
              {"id": "guest", "name": "外聘专家", "department": "文学院"}],
}


async def test_the_file_adds_to_a_synced_directory() -> None:
    directory = compose(SYNCED_DEPARTMENTS, SYNCED_PEOPLE,
                        parse_directory(SCHOOL_FILE, "school.toml"))
    lit = await directory.department("2")
    assert (lit.head, lit.leader) == ("w_dean", "vp_wu")          # sync's head, file's leader
    assert (await directory.department_named("人事处")).id == "3"  # by alias
    assert (await directory.department_named("校董会")).head == "w_pres"
    assert (await directory.person("zhao_s")).counselor == "chen_c"
    head = await directory.person("h_head")
    assert {"it_support", "dept_head", "staff"} <= set(head.roles) and head.title == "处长"
    assert (await directory.person("guest")).department == "2"    # a department given by name
    assert "school_leader" in (await directory.person("vp_wu")).roles
    assert directory.problems == ()


async def test_what_the_file_names_but_the_directory_lacks_is_a_problem_not_an_error() -> None:
    document = {"departments": [{"name": "艺术学院", "leader": "vp_wu"},
                                {"name": "文学院", "head": "ghost"}],
                "users": [{"id": "nobody", "counselor": "chen_c"}]}
    directory = compose(SYNCED_DEPARTMENTS, SYNCED_PEOPLE, parse_directory(document, "s.toml"))
    problems = "\n".join(directory.problems)
    assert "s.toml: departments[0]: 通讯录中没有名为“艺术学院”的部门" in problems
    assert "s.toml: departments[1].head: 通讯录中没有用户 'ghost'" in problems
    assert "s.toml: users[0]: 通讯录中没有用户 'nobody'" in problems
