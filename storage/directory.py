"""Who is who: departments and people, as the rest of the code reads them.

Two sources compose into one view: the synced directory (WeCom's contacts, in the tables
`departments` and `users`) and the school's directory file (its entries, in
`directory_entries`), which adds to or overrides what the sync gives and may define departments
and people of its own. Composition and the implied roles live in `directory_snapshot.py`, the
file format in `directory_file.py`, writing and change tracking in `directory_store.py`.

`Directory` is the read interface; `DatabaseDirectory` serves it from one in-memory snapshot,
reloaded when the directory's generation (bumped by every sync and file change, in any process)
moves on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from storage.roles import ROLE_LABELS

if TYPE_CHECKING:
    from storage.directory_snapshot import DirectorySnapshot


@dataclass(frozen=True)
class DepartmentInfo:
    id: str
    name: str
    kind: str = "office"
    head: str | None = None
    leader: str | None = None
    parent: str | None = None
    #: other names flow files may use for it (from the directory file)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class PersonInfo:
    id: str
    name: str
    department: str | None
    #: every role, the implied ones included (see storage/roles.py)
    roles: tuple[str, ...] = ()
    counselor: str | None = None
    title: str = ""

    def has_role(self, role: str) -> bool:
        return role in self.roles


class Directory(Protocol):
    async def person(self, user_id: str) -> PersonInfo | None: ...
    async def department(self, department_id: str) -> DepartmentInfo | None: ...
    async def department_named(self, name: str) -> DepartmentInfo | None: ...
    async def with_role(self, role: str) -> list[PersonInfo]: ...
    async def departments(self) -> list[DepartmentInfo]: ...
    async def find(self, query: str) -> list[PersonInfo]: ...
    async def generation(self) -> int: ...


def roles_text(roles: tuple[str, ...] | list[str]) -> str:
    """",teacher,cadre," so that "who has role X" is one LIKE on SQLite and PostgreSQL alike."""
    return "," + "".join(f"{role}," for role in roles)


__all__ = ["ROLE_LABELS", "DatabaseDirectory", "DepartmentInfo", "Directory", "PersonInfo",
           "roles_text"]


class DatabaseDirectory:
    """The composed directory, served from memory.

    Every lookup uses one snapshot. A change made in this process is seen at once; a change
    made by another process (a sync from the terminal, another replica loading the file) is
    seen within `check_every` seconds, at the cost of one small query per interval.
    """

    def __init__(self, check_every: float = 1.0) -> None:
        self.check_every = check_every
        self._snapshot: DirectorySnapshot | None = None
        self._local_seen = -1
        self._checked_at = 0.0

    async def snapshot(self) -> DirectorySnapshot:
        from storage import directory_store

        local = directory_store.local_changes()
        now = time.monotonic()
        if self._snapshot is not None and local == self._local_seen:
            if now - self._checked_at < self.check_every:
                return self._snapshot
            self._checked_at = now
            if await directory_store.current_generation() == self._snapshot.generation_value:
                return self._snapshot
        self._local_seen = local
        self._checked_at = now
        self._snapshot = await directory_store.load_snapshot()
        return self._snapshot

    def invalidate(self) -> None:
        self._snapshot = None

    async def person(self, user_id: str) -> PersonInfo | None:
        return await (await self.snapshot()).person(user_id)

    async def department(self, department_id: str) -> DepartmentInfo | None:
        return await (await self.snapshot()).department(department_id)

    async def department_named(self, name: str) -> DepartmentInfo | None:
        return await (await self.snapshot()).department_named(name)

    async def with_role(self, role: str) -> list[PersonInfo]:
        return await (await self.snapshot()).with_role(role)

    async def departments(self) -> list[DepartmentInfo]:
        return await (await self.snapshot()).departments()

    async def find(self, query: str) -> list[PersonInfo]:
        return await (await self.snapshot()).find(query)

    async def people(self) -> list[PersonInfo]:
        return (await self.snapshot()).everyone()

    async def generation(self) -> int:
        return (await self.snapshot()).generation_value

