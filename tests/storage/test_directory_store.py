"""The directory in the database: the file's entries kept apart from the synced rows, and one
in-memory snapshot per process, rebuilt when any process changes the directory."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient
from tortoise import connections

from storage.directory import DatabaseDirectory
from storage.directory_file import parse_directory, read_directory_file
from storage.directory_store import apply_directory_file, bump_generation, current_generation
from storage.models import DirectoryEntry, Person


async def test_lookups_come_from_memory_until_the_directory_changes(client: TestClient) -> None:
    directory = DatabaseDirectory(check_every=3600)
    assert (await directory.person("zhang_t")).name == "张老师"
    # a row changed behind the directory's back (no generation bump) is not read again ...
    await Person.create(id="w_new", name="新同事", department_id=None, roles=[], roles_text=",")
    assert await directory.person("w_new") is None
    # ... a change counted in this process is seen at once
    await bump_generation()
    assert (await directory.person("w_new")).name == "新同事"


async def test_another_process_s_change_is_seen_by_its_generation(client: TestClient) -> None:
    directory = DatabaseDirectory(check_every=0)
    generation = await directory.generation()
    await Person.create(id="w_new", name="新同事", department_id=None, roles=[], roles_text=",")
    assert await directory.person("w_new") is None
    # what another process's sync does: the rows and the counter, in its own connection
    await connections.get("default").execute_query(
        "UPDATE directory_state SET generation = generation + 1 WHERE key = 'directory'")
    assert (await directory.person("w_new")).name == "新同事"
    assert await directory.generation() == generation + 1 == await current_generation()


async def test_a_new_file_replaces_the_old_one_entirely(client: TestClient) -> None:
    directory = DatabaseDirectory()
    assert await directory.person("li_dean") is not None          # the demo, applied at start
    school = parse_directory({"users": [{"id": "t1", "name": "水老师", "roles": ["teacher"]}]},
                             "school.toml")
    assert await apply_directory_file(school)
    assert await directory.person("li_dean") is None               # no demo people left
    assert (await directory.person("t1")).name == "水老师"
    assert not await apply_directory_file(school)                  # the same content: no change
    assert await apply_directory_file(read_directory_file("demo"))
    assert await directory.person("t1") is None


async def test_two_processes_applying_the_same_edit_apply_it_once(client: TestClient) -> None:
    school = parse_directory({"users": [{"id": f"t{n}", "name": f"老师{n}"} for n in range(20)]},
                             "school.toml")
    before = await current_generation()
    changed = await asyncio.gather(apply_directory_file(school), apply_directory_file(school))
    assert sorted(changed) == [False, True]
    assert await DirectoryEntry.all().count() == 20
    assert await current_generation() == before + 1
