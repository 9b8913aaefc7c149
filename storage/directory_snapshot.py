"""One composed, in-memory view of the directory: the synced rows with the file's entries over
them, and the implied roles (storage/roles.py) worked out once.

The file wins where both give a value (a sync never wipes what the file gives): its `head`,
`leader`, `kind`, `aliases`, `title`, `counselor`, `name` and `department` override, its `roles`
are added. What cannot be matched or referenced is kept as a problem, with the file's entry
named, for `campusbot directory check`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from storage.directory import DepartmentInfo, PersonInfo
from storage.directory_file import DirectoryFile, FileEntry

LEADERSHIP = "leadership"
AFFILIATED = "affiliated"


@dataclass
class DirectorySnapshot:
    """Implements the `Directory` read interface from memory; also readable synchronously."""

    departments_by_id: dict[str, DepartmentInfo]
    people_by_id: dict[str, PersonInfo]
    generation_value: int = 0
    #: where the file and the synced directory do not meet (Chinese, naming the entry)
    problems: tuple[str, ...] = ()
    _by_name: dict[str, list[DepartmentInfo]] = field(default_factory=dict, repr=False)
    _by_alias: dict[str, list[DepartmentInfo]] = field(default_factory=dict, repr=False)
    _by_role: dict[str, list[PersonInfo]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for department in sorted(self.departments_by_id.values(), key=lambda d: d.id):
            self._by_name.setdefault(department.name, []).append(department)
            for alias in department.aliases:
                self._by_alias.setdefault(alias, []).append(department)
        for person in sorted(self.people_by_id.values(), key=lambda p: p.id):
            for role in person.roles:
                self._by_role.setdefault(role, []).append(person)

    # ---- synchronous reads (checks that look up many people) --------------------------------
    def named(self, name: str) -> DepartmentInfo | None:
        """The department a flow file means by `name`: its exact name first, then an alias."""
        found = self._by_name.get(name) or self._by_alias.get(name)
        return found[0] if found else None

    def holders(self, role: str) -> list[PersonInfo]:
        return list(self._by_role.get(role, ()))

    def everyone(self) -> list[PersonInfo]:
        return sorted(self.people_by_id.values(), key=lambda p: p.id)

    def all_departments(self) -> list[DepartmentInfo]:
        return sorted(self.departments_by_id.values(), key=lambda d: d.id)

    # ---- the Directory interface ----------------------------------------------------------------
    async def person(self, user_id: str) -> PersonInfo | None:
        return self.people_by_id.get(user_id)

    async def department(self, department_id: str) -> DepartmentInfo | None:
        return self.departments_by_id.get(department_id)

    async def department_named(self, name: str) -> DepartmentInfo | None:
        return self.named(name)

    async def with_role(self, role: str) -> list[PersonInfo]:
        return self.holders(role)

    async def departments(self) -> list[DepartmentInfo]:
        return self.all_departments()

    async def find(self, query: str) -> list[PersonInfo]:
        """People by id, exact name, or part of the name (in that order of preference)."""
        query = query.strip()
        if not query:
            return []
        if query in self.people_by_id:
            return [self.people_by_id[query]]
        everyone = self.everyone()
        exact = [p for p in everyone if p.name == query]
        return (exact or [p for p in everyone if query in p.name])[:10]

    async def generation(self) -> int:
        return self.generation_value


class _Composer:
    def __init__(self, departments: Iterable[DepartmentInfo], people: Iterable[PersonInfo]) -> None:
        self.departments = {d.id: d for d in departments}
        self.people = {p.id: p for p in people}
        self.problems: list[str] = []

    def department_id(self, reference: str) -> str | None:
        """A department given by id, or by name or alias (easier to write beside a sync)."""
        if reference in self.departments:
            return reference
        for candidate in sorted(self.departments.values(), key=lambda d: d.id):
            if reference == candidate.name or reference in candidate.aliases:
                return candidate.id
        return None

    def add_department(self, entry: FileEntry) -> None:
        if entry.id:
            targets = [self.departments[entry.id]] if entry.id in self.departments else []
            if not targets and entry.name:
                targets = [DepartmentInfo(entry.id, entry.name)]
            missing = (f"通讯录中没有 id 为 {entry.id!r} 的部门"
                       "（只写 id 的条目用来补充已同步的部门）")
        else:
            targets = [d for d in self.departments.values() if d.name == entry.name]
            missing = f"通讯录中没有名为“{entry.name}”的部门（用 name 补充已同步的部门；" \
                      "要定义本校自己的部门请同时写 id）"
        if not targets:
            self.problems.append(f"{entry.where}: {missing}")
            return
        changes: dict[str, Any] = {k: entry.values[k] for k in ("kind", "head", "leader")
                                   if k in entry.values}
        if "aliases" in entry.values:
            changes["aliases"] = tuple(entry.values["aliases"])
        if entry.name and entry.id:
            changes["name"] = entry.name
        for target in targets:
            self.departments[target.id] = replace(target, **changes)

    def add_person(self, entry: FileEntry) -> None:
        assert entry.id is not None
        person = self.people.get(entry.id)
        if person is None:
            if not entry.name:
                self.problems.append(f"{entry.where}: 通讯录中没有用户 {entry.id!r}（只写 id "
                                     "的条目用来补充已同步的成员；新增人员请同时写 name）")
                return
            person = PersonInfo(entry.id, entry.name, None)
        values = entry.values
        roles = tuple(dict.fromkeys([*person.roles, *values.get("roles", ())]))
        self.people[entry.id] = replace(
            person, name=entry.name or person.name, roles=roles,
            title=values.get("title", person.title),
            counselor=values.get("counselor", person.counselor),
            department=values.get("department", person.department))

    def check_references(self, file: DirectoryFile | None) -> None:
        """References the file gives must meet a person or department (synced or its own)."""
        for entry in file.entries if file else ():
            for key in ("head", "leader", "counselor"):
                user_id = entry.values.get(key)
                if user_id and user_id not in self.people:
                    self.problems.append(f"{entry.where}.{key}: 通讯录中没有用户 {user_id!r}")
        for person in list(self.people.values()):
            if person.department and person.department not in self.departments:
                resolved = self.department_id(person.department)
                if resolved is None:
                    self.problems.append(f"用户 {person.id}（{person.name}）的所在部门 "
                                         f"{person.department!r} 不在通讯录中")
                self.people[person.id] = replace(person, department=resolved)
        for department in list(self.departments.values()):
            if department.parent and department.parent not in self.departments:
                self.departments[department.id] = replace(
                    department, parent=self.department_id(department.parent))
        by_name: dict[str, list[str]] = {}
        for department in self.departments.values():
            by_name.setdefault(department.name, []).append(department.id)
        for name, ids in sorted(by_name.items()):
            if len(ids) > 1:
                self.problems.append(f"部门名称“{name}”重复（id：{'、'.join(sorted(ids))}），"
                                     "流程按名称找部门时取第一个；请在通讯录文件中区分")

    def implied_roles(self) -> None:
        heads: dict[str, set[str]] = {}
        school_leaders: set[str] = set()
        for department in self.departments.values():
            if department.head:
                heads.setdefault(department.head, set()).add(department.kind)
            if department.leader:
                school_leaders.add(department.leader)
        for person in list(self.people.values()):
            department = self.departments.get(person.department or "")
            roles = list(person.roles)
            if "student" not in roles:
                roles.append("staff")
            for kind in heads.get(person.id, ()):
                if kind == AFFILIATED:
                    roles += ["affiliated_head", "cadre"]
                elif kind != LEADERSHIP:
                    roles += ["dept_head", "cadre"]
            if person.id in school_leaders or (department and department.kind == LEADERSHIP):
                roles.append("school_leader")
            self.people[person.id] = replace(person, roles=tuple(dict.fromkeys(roles)))


def compose(departments: Iterable[DepartmentInfo], people: Iterable[PersonInfo],
            file: DirectoryFile | None, generation: int = 0) -> DirectorySnapshot:
    """The synced directory (`departments`, `people` with their synced roles) with `file` over
    it."""
    composer = _Composer(departments, people)
    for entry in file.departments if file else ():
        composer.add_department(entry)
    for entry in file.users if file else ():
        composer.add_person(entry)
    composer.check_references(file)
    composer.implied_roles()
    return DirectorySnapshot(composer.departments, composer.people, generation,
                             tuple(composer.problems))


def file_alone(file: DirectoryFile) -> DirectorySnapshot:
    """The directory a file gives on its own, without any sync (also used to check flows)."""
    return compose((), (), file)
