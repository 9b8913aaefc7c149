"""The school's own contacts and time limits over the shipped flow files, without forking them.

    # school.toml — [flows] overrides = "school.toml"; tables keyed by the process name
    ["教职工请销假审批"]
    time_limit_days = 5

    ["教职工请销假审批".contact]
    section = "劳资科"
    person = "许芳"
    phone = "0571-8888 1234"

    ["教职工请销假审批".stages.hr_head]
    time_limit_days = 2          # also shown on the guide step describing the stage

Contact fields given here replace the file's sample values, and the guide stops calling the
contact 示例. The merge happens on the parsed document, so the merged definition is what gets
validated, served, exported and identified by digest. A bad entry is reported and skipped; the
flow keeps its own values.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.problems import Problem

CONTACT_FIELDS = ("section", "post", "person", "address", "phone", "email")
_PROCESS_KEYS = ("time_limit_days", "contact", "stages")


@dataclass(frozen=True)
class SchoolOverrides:
    source: Path | None = None
    by_name: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    def for_flow(self, name: str) -> dict[str, Any] | None:
        return self.by_name.get(name)

    def stamp(self) -> tuple[str, int] | None:
        """Changes when the file does (the catalog reloads on it)."""
        if self.source is None:
            return None
        try:
            return str(self.source), self.source.stat().st_mtime_ns
        except OSError:
            return str(self.source), 0


def _limit(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value > 0


def _check_process(name: str, patch: Any, file: Path, problems: list[Problem]) -> dict[str, Any]:
    where = f'["{name}"]'
    if not isinstance(patch, dict):
        problems.append(Problem(file, where, "应为表，例如 [\"教职工请销假审批\".contact]"))
        return {}
    clean: dict[str, Any] = {}
    for key, value in patch.items():
        if key not in _PROCESS_KEYS:
            problems.append(Problem(file, f"{where}.{key}",
                                    f"未知的键（可用：{', '.join(_PROCESS_KEYS)}）"))
        elif key == "time_limit_days":
            if _limit(value):
                clean[key] = value
            else:
                problems.append(Problem(file, f"{where}.{key}", "应为正数（工作日）"))
        elif key == "contact":
            contact = _check_contact(value, f"{where}.contact", file, problems)
            if contact:
                clean[key] = contact
        else:
            stages = _check_stages(value, f"{where}.stages", file, problems)
            if stages:
                clean[key] = stages
    return clean


def _check_contact(value: Any, where: str, file: Path,
                   problems: list[Problem]) -> dict[str, str]:
    if not isinstance(value, dict):
        problems.append(Problem(file, where, "应为表"))
        return {}
    contact = {}
    for key, text in value.items():
        if key not in CONTACT_FIELDS:
            problems.append(Problem(file, f"{where}.{key}",
                                    f"未知的联系项（可用：{', '.join(CONTACT_FIELDS)}）"))
        elif not isinstance(text, str) or not text.strip():
            problems.append(Problem(file, f"{where}.{key}", "应为非空文本"))
        else:
            contact[key] = text.strip()
    return contact


def _check_stages(value: Any, where: str, file: Path,
                  problems: list[Problem]) -> dict[str, float]:
    if not isinstance(value, dict):
        problems.append(Problem(file, where, "应为表，键为环节 id"))
        return {}
    limits = {}
    for stage_id, table in value.items():
        limit = table.get("time_limit_days") if isinstance(table, dict) else None
        if not isinstance(table, dict) or set(table) != {"time_limit_days"} or not _limit(limit):
            problems.append(Problem(file, f"{where}.{stage_id}",
                                    "只能写 time_limit_days（正数，工作日）"))
        else:
            limits[stage_id] = limit
    return limits


def read_overrides(path: Path | None) -> SchoolOverrides:
    """The school file, checked; None or an empty path means no overrides."""
    if path is None:
        return SchoolOverrides()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return SchoolOverrides(path, {}, (Problem(path, "", f"无法读取学校配置文件：{exc}"),))
    except tomllib.TOMLDecodeError as exc:
        return SchoolOverrides(path, {}, (Problem(path, "", f"TOML 语法错误：{exc}"),))
    problems: list[Problem] = []
    by_name = {name: _check_process(name, patch, path, problems)
               for name, patch in document.items()}
    return SchoolOverrides(path, by_name, tuple(problems))


def apply_override(document: dict[str, Any], patch: dict[str, Any], file: Path,
                   problems: list[Problem]) -> dict[str, Any]:
    """A copy of the flow document with the school's values in it."""
    merged = copy.deepcopy(document)
    name = str(merged.get("flow", {}).get("name", ""))
    if "time_limit_days" in patch and isinstance(merged.get("flow"), dict):
        merged["flow"]["time_limit_days"] = patch["time_limit_days"]
    if patch.get("contact"):
        contact = merged.setdefault("contact", {})
        if isinstance(contact, dict):
            contact.update(patch["contact"])
            contact["sample"] = False
    stage_ids = {s.get("id") for s in merged.get("stages", []) if isinstance(s, dict)}
    for stage_id, limit in patch.get("stages", {}).items():
        if stage_id not in stage_ids:
            problems.append(Problem(file, f'["{name}"].stages.{stage_id}',
                                    f"《{name}》没有 id 为 {stage_id!r} 的环节"))
            continue
        for table in (*merged.get("stages", []), *merged.get("steps", [])):
            if isinstance(table, dict) and stage_id in (table.get("id"), table.get("stage")):
                table["time_limit_days"] = limit
    return merged


def unknown_processes(overrides: SchoolOverrides, names: set[str]) -> list[Problem]:
    assert overrides.source is not None or not overrides.by_name
    return [Problem(overrides.source or Path(), f'["{name}"]',
                    "没有这个名称的流程（请写通知中的事项名称，例如 教职工请销假审批）")
            for name in overrides.by_name if name not in names]
