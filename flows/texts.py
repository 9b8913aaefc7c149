"""What the dialog says: questions, summaries and status words."""

from __future__ import annotations

from flows.answers import display_value, expectation
from flows.definition import Field, FlowDefinition
from flows.session import FlowSession

STATUS_LABELS = {
    "filling": "填写中", "pending": "审批中", "followup": "待完成", "completed": "已办结",
    "rejected": "已驳回", "cancelled": "已取消", "expired": "已过期", "withdrawn": "已撤回",
}
COMPLETED_BY_KIND = {
    "approval": "已批准", "filing": "已备案", "certificate": "已办结", "report": "已接收",
    "service": "已办结", "booking": "预约成功",
}
PENDING_BY_KIND = {"service": "办理中", "report": "待接收", "filing": "待备案"}
DIALOG_COMMANDS = "“返回”回到上一项，“取消”放弃，“帮助”查看说明"


def back_word(definition: FlowDefinition | None) -> str:
    """What ends a leave: students come back to school (返校), staff to work (返岗)."""
    if definition is not None and set(definition.audience) <= {"student", "club_leader"}:
        return "返校"
    return "返岗"


NOT_BEGUN = "已同意（未开始）"


def status_label(definition: FlowDefinition | None, status: str, state: str = "", *,
                 begun: bool = True) -> str:
    """`begun`: False for a leave approved whose first day is still to come (not 待销假 yet)."""
    kind = definition.kind if definition else ""
    if status == "completed":
        return COMPLETED_BY_KIND.get(kind, "已办结")
    if status == "pending":
        return PENDING_BY_KIND.get(kind, "审批中")
    if status == "followup" and definition is not None:
        for followup in definition.followups:
            if state == f"followup_{followup.id}":
                if followup.kind != "report_back":
                    return "待评价"
                return "待销假" if begun else NOT_BEGUN
    return STATUS_LABELS.get(status, status)


def progress(session: FlowSession, item: Field, *, editing: bool = False) -> tuple[int, int]:
    """(this question's number, the questions in all). The total counts the questions that
    apply and those that may still apply, so a conditional question never makes it grow (only
    an answer ruling questions out makes it smaller, never below the questions done); the number
    is the answers given plus one — or, for an answer being changed, the question's place."""
    fields = session.counted_fields()
    if editing and item in fields:
        return fields.index(item) + 1, len(fields)
    done = sum(1 for f in fields if f.key != item.key and session.answered(f))
    still_open = sum(1 for f in fields if f.key != item.key and not session.answered(f))
    return done + 1, done + 1 + still_open


def intro_count(session: FlowSession) -> str:
    """共 6 项, or 最多 8 项 while some questions depend on answers still to come."""
    counted = len(session.counted_fields())
    if counted > len(session.applicable_fields()):
        return f"最多 {counted} 项"
    return f"共 {counted} 项"


def question(session: FlowSession, item: Field, *, first: bool = False,
             editing: bool = False) -> str:
    position, total = progress(session, item, editing=editing)
    optional = "（选填，没有请回复“无”）" if not item.required else ""
    lines = [f"（{position}/{total}）请填写{item.label}{optional}："]
    if item.type == "choice":
        lines += [f"{i}. {option}" for i, option in enumerate(item.options, 1)]
    lines.append(expectation(item) + "。")
    if item.hint:
        lines.append(item.hint)
    if first:
        lines.append(f"随时可回复{DIALOG_COMMANDS}。")
    return "\n".join(lines)


def answered_fields(session: FlowSession) -> list[Field]:
    return [f for f in session.applicable_fields() if f.key in session.form]


def summary(session: FlowSession, route: list[str], route_problem: str = "") -> str:
    definition = session.definition
    lines = [f"请核对《{definition.name}》的申请内容："]
    for number, item in enumerate(answered_fields(session), 1):
        lines.append(f"{number}. {item.label}：{display_value(item, session.form[item.key])}")
    if route:
        lines.append("审批流程：" + " → ".join(route))
    if route_problem:
        lines.append(f"⚠ {route_problem}")
    lines.append("回复“确认”提交，“修改 2”修改第 2 项，“取消”放弃。")
    return "\n".join(lines)


def dialog_help(session: FlowSession) -> str:
    item = session.current_field()
    lines = [f"您正在填写《{session.definition.name}》。"]
    if item is not None:
        lines.append(f"当前问题：{item.label}。{expectation(item)}。")
        lines.append(f"可以回复：答案本身，或{DIALOG_COMMANDS}。")
    else:
        lines.append("可以回复：“确认”提交，“修改 N”修改第 N 项，“返回”修改最后一项，“取消”放弃。")
    lines.append("也可以随时回复“我的申请”“待办”查看进度，不会打断当前填写。")
    return "\n".join(lines)
