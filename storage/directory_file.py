"""The school's directory file (TOML): read and checked, every problem named with file and entry.

    [[departments]]            with `id` and `name`: a department of the file's own
    id = "lit"                 with `name` only: adds to (or overrides) the synced department of
    name = "文学院"             that name; with `id` only: the synced department of that id
    kind = "college"           college | office | affiliated | leadership
    head = "li_dean"           部门主要负责人 (user id)
    leader = "vp_wu"           分管校领导 (user id)
    aliases = ["人文学院"]      other names flow files may use for it

    [[users]]                  with `name`: a person of the file's own; with `id` and other keys
    id = "zhang_t"             only: adds to the synced member of that id
    name = "张老师"
    department = "lit"         a department id, or a department name
    roles = ["teacher"]        added to the roles the sync gives
    title = "文学院讲师"
    counselor = "chen_c"       a student's 辅导员 (user id)
    job_number = "20190001"    工号 and mobile: what links the person's accounts on several
    mobile = "13800000001"     channels when a channel's sync matches its members
    accounts = { wecom = "ZhangWei", dingtalk = "0451" }   their accounts, by channel
    channel = "dingtalk"       where their cards and reminders go (else: where they wrote last)

References between entries (heads, counselors, departments) may point at synced people and
departments, so they are checked where file and sync meet (directory_snapshot.py).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

DEMO = "demo"
DEPARTMENT_KINDS = ("college", "office", "affiliated", "leadership")
DEPARTMENT_KEYS = ("id", "name", "kind", "head", "leader", "parent", "aliases")
USER_KEYS = ("id", "name", "department", "roles", "title", "counselor", "job_number", "mobile",
             "accounts", "channel")
_TOP_KEYS = ("departments", "users")


class DirectoryFileError(ValueError):
    """The directory file is invalid; the message names the file and every bad entry."""


@dataclass(frozen=True)
class FileEntry:
    """One [[departments]] or [[users]] entry: its keys exactly as the file gives them."""

    kind: str               # "department" | "user"
    position: int
    where: str              # "school.toml: departments[3]", for messages
    id: str | None
    name: str | None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def defines(self) -> bool:
        """A department or person of the file's own, not an addition to a synced one."""
        return bool(self.name) and (self.kind == "user" or bool(self.id))


@dataclass(frozen=True)
class DirectoryFile:
    source: str
    entries: tuple[FileEntry, ...]

    @property
    def departments(self) -> list[FileEntry]:
        return [e for e in self.entries if e.kind == "department"]

    @property
    def users(self) -> list[FileEntry]:
        return [e for e in self.entries if e.kind == "user"]


def _read_entry(kind: str, index: int, raw: Any, source: str,
                errors: list[str]) -> FileEntry | None:
    table = "departments" if kind == "department" else "users"
    where = f"{source}: {table}[{index}]"
    if not isinstance(raw, dict):
        errors.append(f"{where}: 应为表格 [[{table}]]")
        return None
    allowed = DEPARTMENT_KEYS if kind == "department" else USER_KEYS
    values: dict[str, Any] = {}
    ok = True
    for key, value in raw.items():
        if key not in allowed:
            errors.append(f"{where}.{key}: 未知的键（可用：{', '.join(allowed)}）")
            ok = False
        elif key in ("aliases", "roles"):
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                      for v in value):
                errors.append(f"{where}.{key}: 应为文本列表，例如 [\"甲\", \"乙\"]")
                ok = False
            else:
                values[key] = [v.strip() for v in value]
        elif key == "accounts":  # checked against the channels in storage/identities.py
            if not isinstance(value, dict) or not all(
                    isinstance(v, str) and v.strip() for v in value.values()):
                errors.append(f"{where}.{key}: 应为表，例如 {{ wecom = \"ZhangWei\" }}")
                ok = False
            else:
                values[key] = {str(k): v.strip() for k, v in value.items()}
        elif not isinstance(value, str):
            errors.append(f"{where}.{key}: 应为文本")
            ok = False
        elif value.strip():
            values[key] = value.strip()
    if kind == "department":
        if "id" not in values and "name" not in values and ok:
            errors.append(f"{where}: 需要 name（补充同名部门）或 id")
            ok = False
        if values.get("kind", "office") not in DEPARTMENT_KINDS:
            errors.append(f"{where}.kind: 应为 {', '.join(DEPARTMENT_KINDS)} 之一")
            ok = False
    elif "id" not in values and ok:
        errors.append(f"{where}.id: 缺少必填项（用户在消息平台上的账号）")
        ok = False
    if not ok:
        return None
    entry_id, name = values.pop("id", None), values.pop("name", None)
    return FileEntry(kind, index, where, entry_id, name, values)


def _duplicates(entries: list[FileEntry], errors: list[str]) -> None:
    seen: dict[tuple[str, str, str], FileEntry] = {}
    for entry in entries:
        key = (entry.kind, "id", entry.id) if entry.id else (entry.kind, "name", entry.name or "")
        if key in seen:
            errors.append(f"{entry.where}: 与 {seen[key].where.split(': ')[-1]} 重复"
                          f"（{key[1]} = {key[2]!r}）")
        seen[key] = entry


def parse_directory(document: dict[str, Any], source: str) -> DirectoryFile:
    """Every problem of the document at once, as one DirectoryFileError."""
    file, errors = parse_leniently(document, source)
    if errors:
        raise DirectoryFileError("\n".join(errors))
    return file


def parse_leniently(document: dict[str, Any], source: str) -> tuple[DirectoryFile, list[str]]:
    """The entries that are well-formed, and every problem of the others (for a check that
    names every problem at once, also those only the well-formed entries can show)."""
    errors: list[str] = []
    for key in document:
        if key not in _TOP_KEYS:
            errors.append(f"{source}: {key}: 未知的表（可用：[[departments]]、[[users]]）")
    entries: list[FileEntry] = []
    for table, kind in (("departments", "department"), ("users", "user")):
        raw = document.get(table, [])
        if not isinstance(raw, list):
            errors.append(f"{source}: {table}: 应为表格数组 [[{table}]]")
            continue
        entries += [e for i, item in enumerate(raw)
                    if (e := _read_entry(kind, i, item, source, errors))]
    _duplicates(entries, errors)
    return DirectoryFile(source, tuple(entries)), errors


def directory_file_text(file: str) -> tuple[str, str]:
    """(text, source name) of the configured file; `demo` is the fictional demo directory."""
    if file == DEMO:
        text = resources.files("storage").joinpath("demo_directory.toml").read_text("utf-8")
        return text, "demo_directory.toml"
    try:
        return Path(file).read_text(encoding="utf-8"), file
    except (OSError, UnicodeDecodeError) as exc:
        raise DirectoryFileError(f"{file}: 无法读取通讯录文件：{exc}") from exc


def _document(file: str) -> tuple[dict[str, Any], str]:
    text, source = directory_file_text(file)
    try:
        return tomllib.loads(text), source
    except tomllib.TOMLDecodeError as exc:
        raise DirectoryFileError(f"{source}: TOML 语法错误：{exc}") from exc


def read_directory_file(file: str) -> DirectoryFile:
    return parse_directory(*_document(file))


def read_directory_draft(file: str) -> tuple[DirectoryFile, list[str]]:
    """The file's well-formed entries and the problems of the rest (for `directory check`);
    raises DirectoryFileError only when the file cannot be read as TOML at all."""
    return parse_leniently(*_document(file))


def file_stamp(file: str) -> tuple[int, int] | None:
    """Modification time and size of the file (None for the demo or a missing file)."""
    if not file or file == DEMO:
        return None
    try:
        stat = Path(file).stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
