"""The directory file: errors name the file and the entry; lookups by id or name."""

from __future__ import annotations

import pytest

from storage.directory import DirectoryFileError, parse_directory, read_directory_file


def test_demo_directory_has_the_people_the_flows_need() -> None:
    directory = read_directory_file("demo")
    assert directory.people_by_id["zhang_t"].name == "张老师"
    assert directory.departments_by_id["lit"].head == "li_dean"
    assert directory.people_by_id["stu_liu"].counselor == "chen_c"


def test_every_bad_entry_is_named() -> None:
    document = {
        "departments": [{"id": "lit", "name": "文学院", "head": "ghost"}, {"name": "无编号"}],
        "users": [{"id": "a", "name": "甲", "department": "nowhere"},
                  {"id": "b", "name": "乙", "roles": "teacher"}],
    }
    with pytest.raises(DirectoryFileError) as error:
        parse_directory(document, "school.toml")
    message = str(error.value)
    for where in ("departments[1].id", "users[0].department", "users[1].roles", "lit.head"):
        assert where in message, where
    assert message.count("school.toml") == 4


def test_a_missing_file_is_named() -> None:
    with pytest.raises(DirectoryFileError, match=r"nowhere\.toml"):
        read_directory_file("/tmp/nowhere.toml")


async def test_people_are_found_by_id_or_name() -> None:
    directory = read_directory_file("demo")
    assert [p.id for p in await directory.find("zhang_t")] == ["zhang_t"]
    assert [p.id for p in await directory.find("李院长")] == ["li_dean"]
    assert {p.id for p in await directory.find("院长")} >= {"li_dean", "math_dean"}
