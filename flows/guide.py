"""The service guide (办事指南) of a flow as chat text."""

from __future__ import annotations

from flows.definition import FlowDefinition
from storage.roles import ANYONE, ANYONE_LABEL, ROLE_LABELS

SAMPLE_NOTE = "（联系人及电话为示例数据，待学校填写）"
AUDIENCE_LABELS = {ANYONE: ANYONE_LABEL, **ROLE_LABELS}


def days_text(value: float | None) -> str:
    if value is None:
        return ""
    return f"{int(value)}" if float(value).is_integer() else f"{value}"


def audience_text(definition: FlowDefinition) -> str:
    return "、".join(AUDIENCE_LABELS.get(role, role) for role in definition.audience)


def contact_lines(definition: FlowDefinition) -> list[str]:
    contact = definition.contact
    lines = [
        f"负责单位：{contact.unit or definition.unit}　科室：{contact.section}",
        f"岗位：{contact.post}　负责人：{contact.person}",
        f"办公地址：{contact.address}",
        f"电话：{contact.phone}　邮箱：{contact.email}",
    ]
    if contact.sample:
        lines.append(SAMPLE_NOTE)
    return lines


def guide_text(definition: FlowDefinition, *, can_apply: bool = True) -> str:
    """Everything the school's notice asks a guide to show, in reading order."""
    lines = [f"【{definition.name}】（{definition.unit}·{definition.kind_label}）",
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
    lines += contact_lines(definition)
    if definition.online and can_apply:
        lines.append("回复“办理”在聊天中直接申请；回复“流程图”查看业务流程图。")
    elif definition.online:
        lines.append("回复“流程图”查看业务流程图。")
    return "\n".join(line for line in lines if line)
