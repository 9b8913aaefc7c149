"""The directory in the database: the file's entries, the generation, and the composed snapshot.

The synced rows (`departments`, `users`) are written by the platform sync; the file's entries
(`directory_entries`) only by `apply_directory_file`. Every change bumps one generation counter
(`directory_state`), which is how every process — this one at once, others within a second —
knows to rebuild its in-memory snapshot.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from storage.directory import DepartmentInfo, PersonInfo
from storage.directory_file import DirectoryFile, FileEntry
from storage.directory_snapshot import DirectorySnapshot, compose
from storage.models import Department, DirectoryEntry, DirectoryState, Person

STATE_KEY = "directory"
#: rows the directory file wrote into the synced tables before file entries were kept apart
LEGACY_FILE_SOURCES = ("file", "demo")

_local_changes = 0


def local_changes() -> int:
    """How many directory changes this process made; caches compare it to skip a query."""
    return _local_changes


async def current_generation() -> int:
    values = await DirectoryState.filter(key=STATE_KEY).values_list("generation", flat=True)
    return int(values[0]) if values else 0


async def _ensure_state() -> None:
    if await DirectoryState.exists(key=STATE_KEY):
        return
    try:
        async with in_transaction():  # a savepoint inside the caller's transaction
            await DirectoryState.create(key=STATE_KEY, generation=0, file_digest="",
                                        updated_at=datetime.now(UTC))
    except IntegrityError:
        pass  # another process created it meanwhile


async def bump_generation(*, file_digest: str | None = None) -> int:
    """Count one change of the directory (call inside the transaction that makes it); the
    increment is done by the database, so changes made at once by two processes count twice."""
    global _local_changes
    _local_changes += 1
    await _ensure_state()
    values: dict[str, object] = {"updated_at": datetime.now(UTC)}
    if file_digest is not None:
        values["file_digest"] = file_digest
    await DirectoryState.filter(key=STATE_KEY).update(generation=F("generation") + 1, **values)
    return await current_generation()


def entries_digest(file: DirectoryFile | None) -> str:
    """Identifies the file's content (not its comments or layout)."""
    if file is None:
        return ""
    content = [(e.kind, e.id, e.name, e.values) for e in file.entries]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True)
                          .encode("utf-8")).hexdigest()[:32]


async def apply_directory_file(file: DirectoryFile | None) -> bool:
    """Make the file's entries the ones in force (None: no file). True when anything changed."""
    digest = entries_digest(file)
    await _ensure_state()
    async with in_transaction():
        # one process at a time: replicas noticing the same edit apply it once
        state = await DirectoryState.filter(key=STATE_KEY).select_for_update().first()
        legacy = await Person.filter(source__in=LEGACY_FILE_SOURCES).exists() or \
            await Department.filter(source__in=LEGACY_FILE_SOURCES).exists()
        if state is not None and state.file_digest == digest and not legacy:
            return False
        await Person.filter(source__in=LEGACY_FILE_SOURCES).delete()
        await Department.filter(source__in=LEGACY_FILE_SOURCES).delete()
        await DirectoryEntry.all().delete()
        if file is not None:
            await DirectoryEntry.bulk_create([
                DirectoryEntry(kind=e.kind, position=e.position, location=e.where, entry_id=e.id,
                               name=e.name, data=e.values, source=file.source)
                for e in file.entries])
        await bump_generation(file_digest=digest)
    return True


async def stored_file() -> DirectoryFile | None:
    rows = await DirectoryEntry.all().order_by("id")
    if not rows:
        return None
    entries = tuple(FileEntry(r.kind, r.position, r.location, r.entry_id, r.name, dict(r.data))
                    for r in rows)
    return DirectoryFile(rows[0].source, entries)


async def _synced(*, without_legacy: bool) -> tuple[list[DepartmentInfo], list[PersonInfo]]:
    departments = Department.all()
    people = Person.filter(active=True)
    if without_legacy:
        departments = departments.exclude(source__in=LEGACY_FILE_SOURCES)
        people = people.exclude(source__in=LEGACY_FILE_SOURCES)
    return ([DepartmentInfo(id=r.id, name=r.name, kind=r.kind, head=r.head_id,
                            leader=r.leader_id, parent=r.parent_id) for r in await departments],
            [PersonInfo(id=r.id, name=r.name, department=r.department_id,
                        roles=tuple(r.roles or ()), counselor=r.counselor_id, title=r.title)
             for r in await people])


async def load_snapshot() -> DirectorySnapshot:
    """The synced rows with the file's entries over them, as one snapshot."""
    generation = await current_generation()
    departments, people = await _synced(without_legacy=False)
    return compose(departments, people, await stored_file(), generation)


async def snapshot_with(file: DirectoryFile | None) -> DirectorySnapshot:
    """The synced rows with `file` over them instead of the file in force: what the directory
    would be with this file. Only reads — the directory in force does not change."""
    departments, people = await _synced(without_legacy=True)
    return compose(departments, people, file, await current_generation())
