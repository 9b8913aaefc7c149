"""Who is who: departments and users, from a TOML file or platform sync, kept in the database.

`Directory` is the read interface the rest of the code uses; `FileDirectory` is an in-memory one
(for validating flow files without a database), `DatabaseDirectory` reads the tables.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from tortoise.transactions import in_transaction

from storage.models import Department, Person

DEMO = "demo"
ROLE_LABELS = {
    "teacher": "教师", "student": "学生", "counselor": "辅导员", "cadre": "中层干部",
    "school_leader": "校领导", "staff": "职工",
}


@dataclass(frozen=True)
class DepartmentInfo:
    id: str
    name: str
    kind: str = "office"
    head: str | None = None
    leader: str | None = None
    parent: str | None = None


@dataclass(frozen=True)
class PersonInfo:
    id: str
    name: str
    department: str | None
    roles: tuple[str, ...] = ()
    counselor: str | None = None
    title: str = ""

    def has_role(self, role: str) -> bool:
        return role in self.roles


class Directory(Protocol):
    async def person(self, user_id: str) -> PersonInfo | None: ...
    async def department(self, department_id: str) -> DepartmentInfo | None: ...
    async def with_role(self, role: str) -> list[PersonInfo]: ...
    async def departments(self) -> list[DepartmentInfo]: ...
    async def find(self, query: str) -> list[PersonInfo]: ...


class DirectoryFileError(ValueError):
    """The directory file is invalid; the message names the file and the entry."""


@dataclass(frozen=True)
class FileDirectory:
    departments_by_id: dict[str, DepartmentInfo]
    people_by_id: dict[str, PersonInfo]

    async def person(self, user_id: str) -> PersonInfo | None:
        return self.people_by_id.get(user_id)

    async def department(self, department_id: str) -> DepartmentInfo | None:
        return self.departments_by_id.get(department_id)

    async def with_role(self, role: str) -> list[PersonInfo]:
        return [p for p in self.people_by_id.values() if role in p.roles]

    async def departments(self) -> list[DepartmentInfo]:
        return list(self.departments_by_id.values())

    async def find(self, query: str) -> list[PersonInfo]:
        query = query.strip()
        if query in self.people_by_id:
            return [self.people_by_id[query]]
        exact = [p for p in self.people_by_id.values() if p.name == query]
        return exact or [p for p in self.people_by_id.values() if query and query in p.name]


def _text(entry: dict[str, Any], key: str, where: str, *, required: bool) -> str | None:
    value = entry.get(key)
    if value is None or value == "":
        if required:
            raise DirectoryFileError(f"{where}.{key}: 缺少必填项")
        return None
    if not isinstance(value, str):
        raise DirectoryFileError(f"{where}.{key}: 应为文本")
    return value


def parse_directory(document: dict[str, Any], source: str) -> FileDirectory:
    departments: dict[str, DepartmentInfo] = {}
    people: dict[str, PersonInfo] = {}
    errors: list[str] = []
    for index, entry in enumerate(document.get("departments", [])):
        where = f"{source}: departments[{index}]"
        try:
            department = DepartmentInfo(
                id=_text(entry, "id", where, required=True) or "",
                name=_text(entry, "name", where, required=True) or "",
                kind=_text(entry, "kind", where, required=False) or "office",
                head=_text(entry, "head", where, required=False),
                leader=_text(entry, "leader", where, required=False),
                parent=_text(entry, "parent", where, required=False),
            )
        except DirectoryFileError as exc:
            errors.append(str(exc))
            continue
        departments[department.id] = department
    for index, entry in enumerate(document.get("users", [])):
        where = f"{source}: users[{index}]"
        try:
            roles = entry.get("roles", [])
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise DirectoryFileError(f"{where}.roles: 应为文本列表")
            person = PersonInfo(
                id=_text(entry, "id", where, required=True) or "",
                name=_text(entry, "name", where, required=True) or "",
                department=_text(entry, "department", where, required=False),
                roles=tuple(roles),
                counselor=_text(entry, "counselor", where, required=False),
                title=_text(entry, "title", where, required=False) or "",
            )
        except DirectoryFileError as exc:
            errors.append(str(exc))
            continue
        if person.department and person.department not in departments:
            errors.append(f"{where}.department: 未知部门 {person.department!r}")
        people[person.id] = person
    for department in departments.values():
        for role, user_id in (("head", department.head), ("leader", department.leader)):
            if user_id and user_id not in people:
                errors.append(f"{source}: 部门 {department.id}.{role}: 未知用户 {user_id!r}")
    for person in people.values():
        if person.counselor and person.counselor not in people:
            errors.append(f"{source}: 用户 {person.id}.counselor: 未知用户 {person.counselor!r}")
    if errors:
        raise DirectoryFileError("\n".join(errors))
    return FileDirectory(departments, people)


def read_directory_file(file: str) -> FileDirectory:
    """Read the directory TOML; `demo` means the fictional demo directory shipped with campusbot."""
    if file == DEMO:
        text = resources.files("storage").joinpath("demo_directory.toml").read_text("utf-8")
        source = "demo_directory.toml"
    else:
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise DirectoryFileError(f"{file}: 无法读取通讯录文件：{exc}") from exc
        source = str(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DirectoryFileError(f"{source}: TOML 语法错误：{exc}") from exc
    return parse_directory(document, source)


async def save_directory(directory: FileDirectory, source: str) -> None:
    """Upsert every department and user of `directory` into the tables."""
    async with in_transaction():
        for department in directory.departments_by_id.values():
            await Department.update_or_create(
                id=department.id,
                defaults={"name": department.name, "kind": department.kind,
                          "head_id": department.head, "leader_id": department.leader,
                          "parent_id": department.parent, "source": source},
            )
        for person in directory.people_by_id.values():
            await Person.update_or_create(
                id=person.id,
                defaults={"name": person.name, "department_id": person.department,
                          "roles": list(person.roles), "roles_text": roles_text(person.roles),
                          "counselor_id": person.counselor,
                          "title": person.title, "active": True, "source": source},
            )


def roles_text(roles: tuple[str, ...] | list[str]) -> str:
    return "," + "".join(f"{role}," for role in roles)


def _person(row: Person) -> PersonInfo:
    return PersonInfo(id=row.id, name=row.name, department=row.department_id,
                      roles=tuple(row.roles or ()), counselor=row.counselor_id, title=row.title)


def _department(row: Department) -> DepartmentInfo:
    return DepartmentInfo(id=row.id, name=row.name, kind=row.kind, head=row.head_id,
                          leader=row.leader_id, parent=row.parent_id)


class DatabaseDirectory:
    """The directory as stored in the database (file-loaded or synced from the platform)."""

    async def person(self, user_id: str) -> PersonInfo | None:
        row = await Person.get_or_none(id=user_id, active=True)
        return _person(row) if row else None

    async def department(self, department_id: str) -> DepartmentInfo | None:
        row = await Department.get_or_none(id=department_id)
        return _department(row) if row else None

    async def with_role(self, role: str) -> list[PersonInfo]:
        rows = await Person.filter(active=True, roles_text__contains=f",{role},").order_by("id")
        return [_person(r) for r in rows]

    async def departments(self) -> list[DepartmentInfo]:
        return [_department(r) for r in await Department.all().order_by("id")]

    async def find(self, query: str) -> list[PersonInfo]:
        """People by id, exact name, or part of the name (in that order of preference)."""
        query = query.strip()
        if not query:
            return []
        row = await Person.get_or_none(id=query, active=True)
        if row:
            return [_person(row)]
        exact = await Person.filter(active=True, name=query).order_by("id").limit(10)
        if exact:
            return [_person(r) for r in exact]
        rows = await Person.filter(active=True, name__contains=query).order_by("id").limit(10)
        return [_person(r) for r in rows]

    async def people(self) -> list[PersonInfo]:
        return [_person(r) for r in await Person.filter(active=True).order_by("id")]

    async def snapshot(self) -> FileDirectory:
        """Everything in memory at once, for checks that look up many people (flow validation)."""
        departments = {d.id: d for d in await self.departments()}
        return FileDirectory(departments, {p.id: p for p in await self.people()})
