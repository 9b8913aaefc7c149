"""Departments, their managers and members from DingTalk's contacts API into the directory.

    topapi/v2/department/listsub   the sub-departments of each department, from the root (1)
    topapi/v2/department/get       name, parent, 部门主管 (dept_manager_userid_list → head)
    topapi/v2/user/list            members of each department, 100 a page (cursor)

DingTalk's userids are not the school's ids, so each member is matched to a person first
(storage/identities.py): the person already linked, else the one with that job number (工号),
else that mobile, else the person whose id is the job number; a member nobody matches becomes
a new person (their userid, or `dingtalk-<userid>` when that id is taken). The account is then
linked (source `sync`; the directory file's links win). A member matched to a person another
source keeps (the file, WeCom's sync) only gets the link: their row stays that source's.

Departments are stored as `dingtalk-<dept_id>` (WeCom's numeric ids would collide). What the
contacts do not know — 分管校领导, counselors, roles, aliases — comes from the school's directory
file, composed over the synced rows as for WeCom (the file names departments by name). Members
synced earlier and no longer listed are deactivated. A member who writes before the first sync
(or joined since) is looked up on their first message (`lookup_user`), the same way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tortoise.transactions import in_transaction

from bot.channels.base import Progress, SyncResult
from bot.channels.dingtalk import NAME
from bot.channels.dingtalk.client import DingtalkClient
from bot.channels.dingtalk.errors import DingtalkApiError
from bot.channels.wecom.directory_sync import department_kind
from storage import identities
from storage.directory import DatabaseDirectory, PersonInfo
from storage.directory_store import bump_generation, load_snapshot
from storage.models import Department, Person

log = logging.getLogger("campusbot.dingtalk")

ROOT = 1
PAGE = 100
CONCURRENCY = 5


def department_id(dept_id: Any) -> str:
    return f"{NAME}-{dept_id}"


class _Silent:
    def total(self, units: int) -> None:
        pass

    def step(self) -> None:
        pass


class DirectorySync:
    def __init__(self, client: DingtalkClient) -> None:
        self.client = client
        self._limit = asyncio.Semaphore(CONCURRENCY)

    async def _call(self, path: str, body: dict[str, Any]) -> Any:
        async with self._limit:
            return (await self.client.oapi(path, body)).get("result")

    async def run(self, progress: Progress | None = None) -> SyncResult:
        progress = progress or _Silent()
        ids = await self._all_department_ids()
        progress.total(2 * len(ids))

        async def each(path: str, body: dict[str, Any]) -> Any:
            result = await self._call(path, body)
            progress.step()
            return result

        departments = await asyncio.gather(*(
            each("/topapi/v2/department/get", {"dept_id": i}) for i in ids))
        member_lists = await asyncio.gather(*(self._members(i, progress) for i in ids))
        members: dict[str, dict[str, Any]] = {}
        for listing in member_lists:
            for member in listing:
                members.setdefault(str(member["userid"]), member)
        return await self._save([d for d in departments if isinstance(d, dict)], members)

    async def lookup_user(self, userid: str) -> PersonInfo | None:
        """A member the directory does not know yet, on their first message: fetched
        (topapi/v2/user/get), matched or added like in a sync, and linked."""
        try:
            member = await self._call("/topapi/v2/user/get", {"userid": userid})
        except DingtalkApiError as exc:
            if not exc.retryable:   # not a member DingTalk knows (60121), or out of range
                log.info("DingTalk user %s not found (%s)", userid, exc.code)
                return None
            raise
        if not isinstance(member, dict):
            return None
        departments = []
        for dept_id in (member.get("dept_id_list") or [])[:1]:
            if not await Department.exists(id=department_id(dept_id)):
                departments.append(await self._call("/topapi/v2/department/get",
                                                    {"dept_id": dept_id}))
        result = await self._save([d for d in departments if isinstance(d, dict)],
                                  {userid: member}, deactivate=False)
        person_id = await identities.person_of(NAME, userid)
        log.info("DingTalk user %s added to the directory on first contact (%d linked)",
                 userid, result.linked)
        return (await load_snapshot()).people_by_id.get(person_id) if person_id else None

    async def _all_department_ids(self) -> list[int]:
        found, frontier = [ROOT], [ROOT]
        while frontier:
            children = await asyncio.gather(*(
                self._call("/topapi/v2/department/listsub", {"dept_id": d}) for d in frontier))
            frontier = [int(c["dept_id"]) for listing in children for c in listing or []
                        if int(c["dept_id"]) not in found]
            found.extend(frontier)
        return found

    async def _members(self, dept_id: int, progress: Progress) -> list[dict[str, Any]]:
        members: list[dict[str, Any]] = []
        cursor = 0
        while True:
            page = await self._call("/topapi/v2/user/list",
                                    {"dept_id": dept_id, "cursor": cursor, "size": PAGE})
            members.extend(page.get("list") or [])
            if not page.get("has_more"):
                break
            cursor = int(page["next_cursor"])
        progress.step()
        return members

    async def _save(self, departments: list[dict[str, Any]],
                    members: dict[str, dict[str, Any]], *, deactivate: bool = True,
                    ) -> SyncResult:
        result = SyncResult()
        directory = DatabaseDirectory()
        people: dict[str, str] = {}
        async with in_transaction():
            for userid, member in members.items():
                linked_before = await identities.person_of(NAME, userid)
                person_id = await identities.match(
                    NAME, userid, directory, mobile=member.get("mobile"),
                    job_number=member.get("job_number"))
                person_id = person_id or await identities.new_person_id(NAME, userid, directory)
                people[userid] = person_id
                if await identities.link(NAME, userid, person_id) and linked_before is None:
                    result.linked += 1
                await identities.remember(person_id, mobile=member.get("mobile"),
                                          job_number=member.get("job_number"))
                if await self._save_person(person_id, member):
                    result.people += 1
            for item in departments:
                await self._save_department(item, people)
                result.departments += 1
            if deactivate:
                result.deactivated = await Person.filter(source=NAME, active=True).exclude(
                    id__in=list(people.values())).update(active=False)
            await bump_generation()
        log.info("DingTalk directory sync: %d departments, %d people, %d accounts linked",
                 result.departments, result.people, result.linked)
        return result

    async def _save_department(self, item: dict[str, Any], people: dict[str, str]) -> None:
        managers = [people.get(str(u)) or await identities.person_of(NAME, str(u))
                    for u in item.get("dept_manager_userid_list") or []]
        managers = [m for m in managers if m]
        own_id = department_id(item["dept_id"])
        parent = item.get("parent_id")
        name = str(item.get("name") or own_id)
        values: dict[str, Any] = {
            "name": name, "head_id": managers[0] if managers else None,
            "parent_id": department_id(parent) if parent and int(parent) != int(item["dept_id"])
            else None, "source": NAME}
        if await Department.exists(id=own_id):
            await Department.filter(id=own_id).update(**values)
        else:
            await Department.create(id=own_id, kind=department_kind(name), **values)

    async def _save_person(self, person_id: str, member: dict[str, Any]) -> bool:
        """Store the member's row; False when the person is another source's."""
        departments = member.get("dept_id_list") or []
        values: dict[str, Any] = {
            "name": str(member.get("name") or person_id)[:64],
            "department_id": department_id(departments[0]) if departments else None,
            "title": str(member.get("title") or "")[:64], "active": True, "source": NAME}
        existing = await Person.get_or_none(id=person_id)
        if existing is None:
            await Person.create(id=person_id, roles=[], roles_text=",", **values)
            return True
        if existing.source != NAME:
            return False
        await Person.filter(id=person_id).update(**values)
        return True
