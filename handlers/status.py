"""我的申请, 待办 (paged: `更多`), `查看 N` (an application's timeline) and `超时` (overdue).

Lists never show answers, so sensitive ones cannot leak there; `查看 N` shows every answer to
the applicant and the approvers, and leaves sensitive ones out for CC recipients.
"""

from __future__ import annotations

import contextlib
from typing import Any

from flows.answers import display_value
from flows.cards import decision_word, is_sensitive, leave_range
from flows.definition import FlowDefinition
from flows.engine import FlowEngine
from flows.reminders import when_text
from flows.texts import answered_fields, status_label
from flows.turn import Turn
from storage import applications as store
from storage.models import Application, AuditEntry, Conversation

PAGE = 10
MORE_WORDS = {"更多", "下一页", "还有吗", "继续看"}
ACTION_LABELS = {
    "create": "开始填写", "submit": "提交", "resubmit": "修改后重新提交", "withdraw": "撤回",
    "cancel": "取消", "expire": "超时未填完，自动关闭", "return": "退回修改",
    "transfer": "转交", "add_before": "加签（先由其审批）", "add_after": "同意并加签",
    "urge": "催办", "comment": "留言", "cc": "抄送", "escalate": "超过办结时限，已督办",
    "auto_approve": "自动通过（已在前一环节同意）", "delegated": "由代理人审批",
    "followup_done": "完成", "outdated": "流程更新，已关闭",
}
async def _assignment_words(engine: FlowEngine, action: str, detail: dict[str, Any]) -> str:
    """A stage the directory could not give its approver: the gap and who stands in."""
    gap = detail.get("gap", "通讯录缺少办理人")
    if action == "assign_waiting":
        return f"{gap}，等待通讯录补充后派单"
    names = "、".join([await engine.runtime.name(u) for u in detail.get("fallback", [])])
    return f"{gap}，暂由{names}代为处理" if names else gap


CHANNEL_LABELS = {"sim": "模拟器", "wecom": "企业微信", "dingtalk": "钉钉", "system": "系统"}


async def my_applications(turn: Turn, engine: FlowEngine, conversation: Conversation,
                          offset: int = 0) -> str:
    total = await store.count_applications_of(turn.user.id)
    if not total:
        return "您还没有提交过申请。说“我要请假”或回复“我要办理”开始办理。"
    rows = await store.applications_of(turn.user.id, limit=PAGE, offset=offset)
    lines = [f"您的申请（共 {total} 项）：" if offset == 0 else f"您的申请（续，共 {total} 项）："]
    withdrawable = False
    for application in rows:
        definition = engine.catalog.known_definition(application)
        name = definition.name if definition else application.flow_id
        label = _label(turn, definition, application)
        waiting = ""
        if application.status == "pending":
            names = "、".join(await engine.approvals.waiting_names(application))
            waiting = f"（等待{names}）" if names else (
                "" if await store.open_tasks_of(application.id)
                else "（暂无办理人，通讯录补充后自动送达）")
            withdrawable = True
        local = (application.submitted_at or application.created_at).astimezone(turn.timezone)
        lines.append(f"#{application.id} {name} · {label}{waiting} · {local.month}月{local.day}日")
    _page_footer(lines, conversation, "mine", offset, total)
    if withdrawable:
        lines.append("审批中的申请可回复“撤回”“催办”（或加编号，如“撤回 12”），“查看 12”看进度。")
    return "\n".join(lines)


async def my_tasks(turn: Turn, engine: FlowEngine, conversation: Conversation,
                   offset: int = 0) -> str:
    total = await store.count_pending_tasks_for(turn.user.id)
    if not total:
        return "目前没有待您处理的事项。"
    tasks = await store.pending_tasks_for(turn.user.id, limit=PAGE, offset=offset)
    lines = [f"待您处理（{total} 项）：" if offset == 0 else f"待您处理（续，共 {total} 项）："]
    for task in tasks:
        application = task.application
        definition = engine.catalog.known_definition(application)
        stage = definition.stage_by_id(task.stage_id).name if definition else task.stage_id
        name = definition.name if definition else application.flow_id
        who = await engine.runtime.name(application.applicant_id)
        due = ""
        if task.due_at is not None:
            late = "已超时 " if task.due_at < turn.now else ""
            due = f" · {late}时限 {when_text(task.due_at, turn)}"
        on_behalf = ""
        if task.delegated_from:
            on_behalf = f" · 代{await engine.runtime.name(task.delegated_from)}"
        lines.append(f"#{application.id} {who}的{name} · {stage}{due}{on_behalf}")
    _page_footer(lines, conversation, "tasks", offset, total)
    lines.append("可在卡片上操作，也可回复“同意 编号”或“驳回 编号 理由”，例如“同意 12”；"
                 "“查看 12”看详情。")
    return "\n".join(lines)


def _page_footer(lines: list[str], conversation: Conversation, which: str, offset: int,
                 total: int) -> None:
    shown = min(offset + PAGE, total)
    if shown < total:
        conversation.pending = {"kind": "more", "list": which, "offset": shown}
        lines.append(f"（第 {offset + 1}–{shown} 项，回复“更多”查看后面 {total - shown} 项）")
    elif (conversation.pending or {}).get("kind") == "more":
        conversation.pending = {}


async def more(turn: Turn, engine: FlowEngine, conversation: Conversation) -> str:
    pending: dict[str, Any] = conversation.pending or {}
    if pending.get("kind") != "more":
        return "没有更多了。回复“我的申请”或“待办”查看列表。"
    offset = int(pending.get("offset", 0))
    if pending.get("list") == "tasks":
        return await my_tasks(turn, engine, conversation, offset)
    return await my_applications(turn, engine, conversation, offset)


# ---- 查看 N ------------------------------------------------------------------------------------

def _label(turn: Turn, definition: FlowDefinition | None, application: Application) -> str:
    """The status as the applicant reads it; a leave approved but not begun is not 待销假."""
    if application.status == "returned":
        return "已退回修改"
    leave = leave_range(definition, application.form) if definition is not None else None
    begun = leave is None or turn.today >= leave[0]
    return status_label(definition, application.status, application.state, begun=begun)


async def view(turn: Turn, engine: FlowEngine, number: int) -> str:
    application = await store.get_application(number)
    if application is None or application.submitted_at is None:
        return f"没有找到申请 #{number}。"
    user = turn.user.id
    is_applicant = application.applicant_id == user
    is_approver = await store.involved_in(application.id, user)
    is_cc = await store.is_carbon_copied(application.id, user)
    if not (is_applicant or is_approver or is_cc):
        return f"您无权查看申请 #{number}。"
    definition = engine.catalog.get(application.flow_id)
    name = definition.name if definition else application.flow_id
    applicant = await engine.runtime.name(application.applicant_id)
    label = _label(turn, definition, application)
    lines = [f"#{application.id} {applicant}的《{name}》· {label}"]
    if definition is not None:
        session = await engine.runtime.session_for(application, definition)
        for item in answered_fields(session):
            if is_sensitive(session, item) and not (is_applicant or is_approver):
                lines.append(f"· {item.label}：（仅审批人可见）")
                continue
            lines.append(f"· {item.label}：{display_value(item, session.form[item.key])}")
    lines.append("办理记录：")
    for entry in await store.audit_of(application.id):
        text = await _timeline_line(turn, engine, entry, definition)
        if text:
            lines.append(text)
    if (score := application.meta.get("rating")) is not None:
        remark = application.meta.get("rating_comment", "")
        lines.append(f"服务评价：{score}分" + (f"（{remark}）" if remark else ""))
    waiting = await engine.approvals.waiting_names(application)
    if waiting and application.status == "pending":
        lines.append(f"当前等待：{'、'.join(waiting)}")
        if is_approver and await store.pending_task_of(user, application.id):
            lines.append(f"回复“同意 {number}”或“驳回 {number} 理由”处理。")
    return "\n".join(lines)


async def _timeline_line(turn: Turn, engine: FlowEngine, entry: AuditEntry,
                         definition: Any) -> str:
    action = entry.action
    detail = entry.detail or {}
    if action in ("start", "answer", "back", "edit", "approve", "reject"):
        return ""  # dialog steps, and stage moves already shown by their decisions
    who = "系统" if entry.actor_id == "system" else await engine.runtime.name(entry.actor_id)
    step = None
    if definition is not None and detail.get("stage"):
        with contextlib.suppress(KeyError):
            step = definition.stage_by_id(detail["stage"])
    stage = step.name + " " if step is not None else ""
    if action == "decision":
        kind = step.kind if step is not None else "approve"
        what = {"approved": decision_word(kind, "approve"),
                "rejected": decision_word(kind, "reject")}.get(detail.get("outcome", ""), "处理")
    elif action.startswith("assign_"):
        what = await _assignment_words(engine, action, detail)
    elif action == "followup_done":
        what = "完成销假" if definition and any(
            f.kind == "report_back" for f in definition.followups) else "完成评价"
    else:
        what = ACTION_LABELS.get(action, action)
    if action in ("transfer", "add_before", "add_after", "escalate") and detail.get("to"):
        what += f"给{await engine.runtime.name(detail['to'])}"
    if action == "cc" and detail.get("to"):
        names = [await engine.runtime.name(u) for u in detail["to"]]
        what += "：" + "、".join(names)
    at = entry.at.astimezone(turn.timezone)
    channel = CHANNEL_LABELS.get(entry.channel, entry.channel)
    via = f"（{channel}）" if channel and entry.actor_id != "system" else ""
    comment = f"：{entry.comment}" if entry.comment else ""
    return f"{at:%m-%d %H:%M} {who} {stage}{what}{comment}{via}"


# ---- 超时 --------------------------------------------------------------------------------------

async def overdue(turn: Turn, engine: FlowEngine) -> str:
    """Overdue tasks a head should chase: those of their unit (all, for a school leader)."""
    directory = engine.directory
    person = turn.user
    departments = [d for d in await directory.departments()
                   if person.id in (d.head, d.leader)]
    if not departments:
        mine = await store.overdue_tasks(turn.now, [person.id])
        if not mine:
            return "您没有超过办结时限的待办。"
        return await _overdue_lines(turn, engine, mine, "您超过办结时限的待办")
    ids = {d.id for d in departments}
    people = [p.id for p in await _people_in(engine, ids)]
    tasks = await store.overdue_tasks(turn.now, people)
    if not tasks:
        return "您分管或负责的部门目前没有超过办结时限的事项。"
    return await _overdue_lines(turn, engine, tasks, "超过办结时限的事项")


async def _people_in(engine: FlowEngine, department_ids: set[str]) -> list[Any]:
    people = getattr(engine.directory, "people", None)
    if people is None:
        return []
    return [p for p in await people() if p.department in department_ids]


async def _overdue_lines(turn: Turn, engine: FlowEngine, tasks: list[Any], title: str) -> str:
    lines = [f"{title}（{len(tasks)} 项）："]
    for task in tasks:
        application: Application = task.application
        definition = engine.catalog.get(application.flow_id)
        name = definition.name if definition else application.flow_id
        approver = await engine.runtime.name(task.approver_id)
        lines.append(f"#{application.id} {name} · 在{approver}处 · "
                     f"时限 {when_text(task.due_at, turn)}")
    return "\n".join(lines)
