"""Browsing the catalog by unit: 我要办理 → a unit → a process."""

from __future__ import annotations

from collections.abc import Mapping

from flows.catalog import Catalog, notice_order
from flows.definition import FlowDefinition


def units(catalog: Catalog, user_id: str) -> list[str]:
    seen: list[str] = []
    for definition in notice_order(catalog.visible_to(user_id)):
        if definition.unit not in seen:
            seen.append(definition.unit)
    return seen


def unit_menu(units: list[str], names: Mapping[str, str] | None = None) -> str:
    """`names`: the school's own name for a unit the flows name as the notice does."""
    lines = ["请选择部门（回复序号）："]
    lines += [f"{i}. {(names or {}).get(unit, unit)}" for i, unit in enumerate(units, 1)]
    return "\n".join(lines)


def flow_menu(unit: str, definitions: list[FlowDefinition],
              names: Mapping[str, str] | None = None) -> str:
    lines = [f"{(names or {}).get(unit, unit)}的办事事项（回复序号查看指南）："]
    for i, definition in enumerate(definitions, 1):
        tag = "（平台入口）" if not definition.online else ""
        lines.append(f"{i}. {definition.name}{tag}")
    return "\n".join(lines)


def choice_menu(definitions: list[FlowDefinition],
                names: Mapping[str, str] | None = None) -> str:
    lines = ["您问的可能是以下事项，请回复序号："]
    lines += [f"{i}. {d.name}（{(names or {}).get(d.unit, d.unit)}）"
              for i, d in enumerate(definitions, 1)]
    return "\n".join(lines)
