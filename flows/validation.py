"""Cross-checks of flow definitions against each other and the named actions.

Only these (and the loader's) problems leave a file out of the catalog. Whether the directory
can give each stage an approver is `campusbot directory check` (flows/directory_check.py): a
directory gap never takes a process offline.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from flows.definition import FlowDefinition
from flows.machine import reachability_problems
from flows.problems import Problem
from storage.roles import ANYONE

APPLICANT_NAMES = ("applicant_roles", "applicant_department", "applicant_is_head")
__all__ = ["ANYONE", "APPLICANT_NAMES", "check_structure", "check_unique"]


def _names_known(definition: FlowDefinition) -> set[str]:
    names = set(APPLICANT_NAMES)
    for item in definition.fields:
        names.add(item.key)
        if item.type == "date_range":
            names.add(f"{item.key}_days")
    return names


def check_structure(definition: FlowDefinition, action_names: Collection[str]) -> list[Problem]:
    """Problems visible from the definition alone (plus the registry of named actions)."""
    file = definition.source or Path(definition.id)
    problems: list[Problem] = []

    def add(where: str, message: str) -> None:
        problems.append(Problem(file, where, message))

    names = _names_known(definition)
    keys = [f.key for f in definition.fields]
    for index, item in enumerate(definition.fields):
        if keys.count(item.key) > 1:
            add(f"fields[{index}].key", f"字段 {item.key!r} 重复")
        if item.when is not None:
            for unknown in sorted(item.when.names - names):
                add(f"fields[{index}].when", f"条件引用了未知字段 {unknown!r}")
            if item.key in item.when.names:
                add(f"fields[{index}].when", "字段的条件不能引用它自己")
        if item.check and item.check not in action_names:
            add(f"fields[{index}].check", f"未知的校验动作 {item.check!r}")
        if item.type == "choice" and item.options and len(set(item.options)) != len(item.options):
            add(f"fields[{index}].options", "选项重复")
    stage_ids = [s.id for s in definition.stages]
    for index, stage in enumerate(definition.stages):
        if stage_ids.count(stage.id) > 1:
            add(f"stages[{index}].id", f"环节 {stage.id!r} 重复")
        if stage.when is not None:
            for unknown in sorted(stage.when.names - names):
                add(f"stages[{index}].when", f"条件引用了未知字段 {unknown!r}")
        for fact in stage.card_facts:
            if fact not in keys:
                add(f"stages[{index}].card_facts", f"卡片字段引用了未知字段 {fact!r}")
    for index, followup in enumerate(definition.followups):
        for attribute, wanted in (("start_field", ("date",)), ("days_field", ("number",)),
                                  ("range_field", ("date_range",))):
            key = getattr(followup, attribute)
            if not key:
                continue
            if key not in keys:
                add(f"followups[{index}].{attribute}", f"引用了未知字段 {key!r}")
            elif definition.field_by_key(key).type not in wanted:
                add(f"followups[{index}].{attribute}", f"字段 {key!r} 应为 {'/'.join(wanted)} 类型")
    if definition.booking is not None:
        for attribute in ("resource_field", "date_field", "slot_field"):
            key = getattr(definition.booking, attribute)
            if key and key not in keys:
                add(f"booking.{attribute}", f"引用了未知字段 {key!r}")
    described = [step.stage for step in definition.steps if step.stage]
    for index, step in enumerate(definition.steps):
        if step.stage and step.stage not in stage_ids:
            add(f"steps[{index}].stage", f"未知的审批环节 {step.stage!r}")
        elif step.stage and described.count(step.stage) > 1:
            add(f"steps[{index}].stage", f"环节 {step.stage!r} 由多个步骤描述")
    for index, stage in enumerate(definition.stages):
        if stage.id not in described:
            add(f"stages[{index}]", f"办理流程中没有描述环节 {stage.id!r} 的步骤"
                                    f"（在对应的 [[steps]] 中写 stage = \"{stage.id}\"）")
    for check in definition.checks:
        if check not in action_names:
            add("flow.checks", f"未知的校验动作 {check!r}")
    for state, message in reachability_problems(definition):
        add(f"states.{state}", message)
    return problems


def check_unique(definitions: list[FlowDefinition]) -> list[Problem]:
    problems: list[Problem] = []
    seen_ids: dict[str, Path | None] = {}
    seen_names: dict[str, Path | None] = {}
    for definition in definitions:
        file = definition.source or Path(definition.id)
        if definition.id in seen_ids:
            problems.append(Problem(file, "flow.id", f"与 {seen_ids[definition.id]} 的 id 重复"))
        if definition.name in seen_names:
            problems.append(Problem(file, "flow.name",
                                    f"与 {seen_names[definition.name]} 的流程名称重复"))
        seen_ids[definition.id] = definition.source
        seen_names[definition.name] = definition.source
    return problems
