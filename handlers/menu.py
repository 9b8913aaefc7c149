"""Browsing the catalog by unit: 我要办理 → a unit → a process."""

from __future__ import annotations

from flows.catalog import Catalog, notice_order
from flows.definition import FlowDefinition


def units(catalog: Catalog, user_id: str) -> list[str]:
    seen: list[str] = []
    for definition in notice_order(catalog.visible_to(user_id)):
        if definition.unit not in seen:
            seen.append(definition.unit)
    return seen


def unit_menu(names: list[str]) -> str:
    lines = ["请选择部门（回复序号）："]
    lines += [f"{i}. {name}" for i, name in enumerate(names, 1)]
    return "\n".join(lines)


def flow_menu(unit: str, definitions: list[FlowDefinition]) -> str:
    lines = [f"{unit}的办事事项（回复序号查看指南）："]
    for i, definition in enumerate(definitions, 1):
        tag = "（平台入口）" if not definition.online else ""
        lines.append(f"{i}. {definition.name}{tag}")
    return "\n".join(lines)


def choice_menu(definitions: list[FlowDefinition]) -> str:
    lines = ["您问的可能是以下事项，请回复序号："]
    lines += [f"{i}. {d.name}（{d.unit}）" for i, d in enumerate(definitions, 1)]
    return "\n".join(lines)
