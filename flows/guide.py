"""The service guide (办事指南) of a flow as chat text.

On a phone the first answer is a summary of at most eight lines (`guide_summary`): what it is,
who handles it, the time limit, the materials in one line and how to start. The rest comes on
request: `详情` the steps with their materials and notes (`guide_text`), `联系方式` the contact
(`contact_text`), `流程图` the flowchart. A platform entry gives its link and how to log in.

`names` (flows/unit_names.py) gives the school's own name for a unit the flow names as the
notice does (人事处 → 人事部); units are shown by it.
"""

from __future__ import annotations

from collections.abc import Mapping

from flows.definition import FlowDefinition
from storage.roles import ANYONE, ANYONE_LABEL, ROLE_LABELS

SAMPLE_NOTE = "（联系人及电话为示例数据，待学校填写）"
#: after contact data that is still the shipped sample (the school has not given its own)
SAMPLE_MARK = "（示例）"
AUDIENCE_LABELS = {ANYONE: ANYONE_LABEL, **ROLE_LABELS}


def days_text(value: float | None) -> str:
    if value is None:
        return ""
    return f"{int(value)}" if float(value).is_integer() else f"{value}"


def audience_text(definition: FlowDefinition) -> str:
    return "、".join(AUDIENCE_LABELS.get(role, role) for role in definition.audience)


def unit_of(definition: FlowDefinition, names: Mapping[str, str] | None = None) -> str:
    """The unit to contact (the contact's, else the flow's), by the school's name for it."""
    unit = definition.contact.unit or definition.unit
    return (names or {}).get(unit, unit)


def contact_lines(definition: FlowDefinition,
                  names: Mapping[str, str] | None = None) -> list[str]:
    contact = definition.contact
    lines = [
        f"负责单位：{unit_of(definition, names)}　科室：{contact.section}",
        f"岗位：{contact.post}　负责人：{contact.person}",
        f"办公地址：{contact.address}",
        f"电话：{contact.phone}　邮箱：{contact.email}",
    ]
    if contact.sample:
        lines.append(SAMPLE_NOTE)
    return lines


MORE_HINT = "回复“详情”看完整步骤，“联系方式”看负责人和电话，“流程图”看流程图。"
APPLY_HINT = "回复“办理”开始申请。"
#: a material the chat itself collects (请假申请（在聊天中填写）): nothing to prepare
CHAT_FILLED = "在聊天中填写"
MATERIALS_MAX = 60      # characters of the materials line before it is cut with 等


def handled_by(definition: FlowDefinition, names: Mapping[str, str] | None = None) -> str:
    """The unit and section that handle it, e.g. 信息与公共实验管理中心·运维服务科."""
    contact = definition.contact
    unit = unit_of(definition, names)
    text = f"{unit}·{contact.section}" if contact.section else unit
    return text + SAMPLE_MARK if contact.sample else text


def materials_line(definition: FlowDefinition) -> str:
    """Every step's materials in one line, cut with 等 when long; "" when none."""
    materials = list(dict.fromkeys(m for step in definition.steps for m in step.materials
                                   if CHAT_FILLED not in m))
    if not materials:
        return ""
    line = "；".join(materials)
    if len(line) > MATERIALS_MAX:
        line = line[:MATERIALS_MAX].rsplit("；", 1)[0] + " 等"
    return line


def guide_summary(definition: FlowDefinition, *, can_apply: bool = True,
                  names: Mapping[str, str] | None = None) -> str:
    """The first answer about a process: at most eight short lines."""
    lines = [f"【{definition.name}】", definition.summary]
    if definition.platform is not None:
        platform = definition.platform
        lines += [f"网址：{platform.url}", f"登录：{platform.login}",
                  f"负责：{handled_by(definition, names)}",
                  "回复“详情”看可办理的事项，“联系方式”看负责人和电话。"]
        return "\n".join(lines)
    lines.append(f"负责：{handled_by(definition, names)}")
    lines.append(f"时限：{days_text(definition.time_limit_days)} 个工作日")
    materials = materials_line(definition)
    if materials:
        lines.append(f"材料：{materials}")
    lines.append(MORE_HINT)
    if definition.online and can_apply:
        lines.append(APPLY_HINT)
    return "\n".join(lines)


def contact_text(definition: FlowDefinition, names: Mapping[str, str] | None = None) -> str:
    return "\n".join([f"《{definition.name}》联系方式：", *contact_lines(definition, names)])


def guide_text(definition: FlowDefinition, *, can_apply: bool = True,
               names: Mapping[str, str] | None = None) -> str:
    """Everything the school's notice asks a guide to show, in reading order."""
    unit = (names or {}).get(definition.unit, definition.unit)
    lines = [f"【{definition.name}】（{unit}·{definition.kind_label}）",
             definition.summary]
    if definition.platform is not None:
        platform = definition.platform
        lines += [
            f"网址：{platform.url}",
            f"登录：{platform.login}",
            "可办理：" + "；".join(platform.can_do),
        ]
    else:
        lines.append(f"办理对象：{audience_text(definition)}")
        lines.append(f"办结时限：{days_text(definition.time_limit_days)} 个工作日")
    lines.append("办理流程：")
    for number, step in enumerate(definition.steps, 1):
        limit = f"（{days_text(step.time_limit_days)} 个工作日）" if step.time_limit_days else ""
        actor = f"［{step.actor}］" if step.actor else ""
        lines.append(f"{number}. {step.title}{actor}{limit}")
        if step.materials:
            lines.append("   材料：" + "；".join(step.materials))
        if step.notes:
            lines.append(f"   说明：{step.notes}")
    lines += contact_lines(definition, names)
    if definition.online and can_apply:
        lines.append("回复“办理”开始申请，“流程图”查看流程图。")
    elif definition.online:
        lines.append("回复“流程图”查看流程图。")
    return "\n".join(line for line in lines if line)
