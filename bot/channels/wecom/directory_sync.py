"""Departments, their leaders and members from WeCom's contacts API into the directory tables.

    department/simplelist        every department id the app may see
    department/get               name, parent and 部门负责人 (department_leader → head)
    user/list per department     members: name, main department, position, status
    tag/list + tag/get           roles: a tag named after a role (“教师”, “IT运维”, … or its
                                 code, e.g. it_support) or `role:<code>` (e.g. role:dorm_admin)
                                 gives its members, and members of its departments, that role

A member's synced roles are exactly those of their role tags; `staff` and the other implied
roles follow from the directory (storage/roles.py). What WeCom does not know — a department's
分管校领导, aliases, a student's counselor, roles without a tag — comes from the school's
directory file, kept apart and composed over the synced rows, so a sync never wipes it. Members
synced earlier but no longer visible (left, disabled, out of the app's range) are deactivated.
A user unknown to the directory is looked up on first contact with `lookup_user`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from tortoise.transactions import in_transaction

from bot.channels.wecom.client import WecomClient
from bot.channels.wecom.errors import USER_NOT_FOUND, WecomApiError
from storage.directory import PersonInfo, roles_text
from storage.directory_store import bump_generation, load_snapshot
from storage.models import Department, Person
from storage.roles import role_of_label

log = logging.getLogger("campusbot.wecom")

SOURCE = "wecom"
ACTIVE_STATUSES = (1, 4)      # 1 activated, 4 not activated yet; 2 disabled and 5 left are not
CONCURRENCY = 5
ROLE_CODE = re.compile(r"[a-z][a-z0-9_]{0,31}")


class Progress(Protocol):
    def total(self, units: int) -> None: ...
    def step(self) -> None: ...


class _Silent:
    def total(self, units: int) -> None:
        pass

    def step(self) -> None:
        pass


@dataclass
class SyncReport:
    departments: int = 0
    people: int = 0
    deactivated: int = 0
    #: roles given by role tags
    roles: list[str] = field(default_factory=list)


def department_kind(name: str) -> str:
    if "校领导" in name:
        return "leadership"
    if name.startswith("附属"):
        return "affiliated"
    if name.endswith(("学院", "系", "研究院")):
        return "college"
    return "office"


class DirectorySync:
    def __init__(self, client: WecomClient) -> None:
        self.client = client

    async def run(self, progress: Progress | None = None) -> SyncReport:
        progress = progress or _Silent()
        ids = [str(d["id"]) for d in (await self.client.get("department/simplelist")).get(
            "department_id", [])]
        tags = await self._role_tags()
        progress.total(2 * len(ids) + len(tags))
        limit = asyncio.Semaphore(CONCURRENCY)

        async def each(call: Any) -> Any:
            async with limit:
                result = await call
            progress.step()
            return result

        departments = await asyncio.gather(*(
            each(self.client.get("department/get", id=i)) for i in ids))
        member_lists = await asyncio.gather(*(
            each(self.client.get("user/list", department_id=i)) for i in ids))
        tag_members = await asyncio.gather(*(
            each(self.client.get("tag/get", tagid=tag_id)) for tag_id in tags))
        members: dict[str, dict[str, Any]] = {}
        for listing in member_lists:
            for member in listing.get("userlist", []):
                members.setdefault(str(member["userid"]), member)
        roles = _roles_from_tags(list(zip(tags.values(), tag_members, strict=True)), members)
        report = await self._save([d["department"] for d in departments], members, roles)
        report.roles = sorted(set(tags.values()))
        return report

    async def lookup_user(self, user_id: str) -> PersonInfo | None:
        """Fetch and store a user the directory does not know yet (their first message)."""
        try:
            member = await self.client.get("user/get", userid=user_id)
        except WecomApiError as exc:
            if exc.errcode == USER_NOT_FOUND or not exc.retryable:
                log.info("WeCom user %s not found (errcode %d)", user_id, exc.errcode)
                return None
            raise
        if member.get("status") not in ACTIVE_STATUSES:
            return None
        department = _main_department(member)
        departments = []
        if department and not await Department.exists(id=department):
            departments.append((await self.client.get("department/get", id=department))[
                "department"])
        tags = await self._role_tags()
        tag_members = [(role, await self.client.get("tag/get", tagid=tag_id))
                       for tag_id, role in tags.items()]
        roles = _roles_from_tags(tag_members, {user_id: member})
        await self._save(departments, {user_id: member}, roles, deactivate=False)
        log.info("WeCom user %s added to the directory on first contact", user_id)
        return (await load_snapshot()).people_by_id.get(user_id)

    async def _role_tags(self) -> dict[str, str]:
        """tag id → role, for tags named after a role (label or code)."""
        tags = {}
        for tag in (await self.client.get("tag/list")).get("taglist", []):
            role = role_of_tag(str(tag.get("tagname", "")))
            if role:
                tags[str(tag["tagid"])] = role
        return tags

    async def _save(self, departments: list[dict[str, Any]], members: dict[str, dict[str, Any]],
                    roles: dict[str, set[str]], *, deactivate: bool = True) -> SyncReport:
        report = SyncReport()
        async with in_transaction():
            for item in departments:
                await self._save_department(item)
                report.departments += 1
            for user_id, member in members.items():
                await self._save_person(user_id, member, roles.get(user_id))
                report.people += 1
            if deactivate:
                report.deactivated = await Person.filter(source=SOURCE, active=True).exclude(
                    id__in=list(members)).update(active=False)
            await bump_generation()
        return report

    async def _save_department(self, item: dict[str, Any]) -> None:
        department_id = str(item["id"])
        leaders = [str(u) for u in item.get("department_leader") or []]
        parent = str(item["parentid"]) if item.get("parentid") else None
        existing = await Department.get_or_none(id=department_id)
        name = str(item.get("name") or department_id)
        values: dict[str, Any] = {"name": name, "head_id": leaders[0] if leaders else None,
                  "parent_id": parent if parent != department_id else None, "source": SOURCE}
        if existing is None:
            await Department.create(id=department_id, kind=department_kind(name), **values)
        else:
            await Department.filter(id=department_id).update(**values)

    async def _save_person(self, user_id: str, member: dict[str, Any],
                           tag_roles: set[str] | None) -> None:
        existing = await Person.get_or_none(id=user_id)
        person_roles = sorted(tag_roles or ())
        values: dict[str, Any] = {"name": str(member.get("name") or user_id),
                  "department_id": _main_department(member),
                  "title": str(member.get("position") or ""),
                  "active": member.get("status", 1) in ACTIVE_STATUSES,
                  "roles": person_roles, "roles_text": roles_text(person_roles),
                  "source": SOURCE}
        if existing is None:
            await Person.create(id=user_id, **values)
        else:
            await Person.filter(id=user_id).update(**values)


def role_of_tag(name: str) -> str | None:
    name = name.strip()
    role = role_of_label(name)
    if role:
        return role
    code = name.removeprefix("role:")
    return code if code != name and ROLE_CODE.fullmatch(code) else None


def _main_department(member: dict[str, Any]) -> str | None:
    main = member.get("main_department") or next(iter(member.get("department") or []), None)
    return str(main) if main else None


def _roles_from_tags(tag_members: list[tuple[str, dict[str, Any]]],
                     members: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """user id → roles, from each role tag's members and departments."""
    roles: dict[str, set[str]] = {}
    for role, listing in tag_members:
        for user in listing.get("userlist", []):
            roles.setdefault(str(user["userid"]), set()).add(role)
        parties = {str(p) for p in listing.get("partylist", [])}
        if parties:
            for user_id, member in members.items():
                if parties & {str(d) for d in member.get("department", [])}:
                    roles.setdefault(user_id, set()).add(role)
    return roles
