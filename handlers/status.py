"""我的申请 and 待办: where a user's applications stand and what waits for them."""

from __future__ import annotations

from flows.catalog import Catalog
from flows.texts import status_label
from flows.turn import Turn
from storage import applications as store
from storage.directory import Directory


async def my_applications(turn: Turn, catalog: Catalog, directory: Directory) -> str:
    rows = await store.applications_of(turn.user.id)
    if not rows:
        return "您还没有提交过申请。说“我要请假”或回复“我要办理”开始办理。"
    lines = ["您最近的申请："]
    withdrawable = False
    for application in rows:
        definition = catalog.known_definition(application)
        name = definition.name if definition else application.flow_id
        label = status_label(definition, application.status, application.state)
        waiting = ""
        if application.status == "pending":
            tasks = await store.open_tasks_of(application.id)
            people = [await directory.person(t.approver_id) for t in tasks]
            names = "、".join(p.name for p in people if p)
            waiting = f"（等待{names}）" if names else (
                "" if tasks else "（暂无办理人，通讯录补充后自动送达）")
            withdrawable = True
        local = (application.submitted_at or application.created_at).astimezone(turn.timezone)
        lines.append(f"#{application.id} {name} · {label}{waiting} · {local.month}月{local.day}日")
    if withdrawable:
        lines.append("审批中的申请可回复“撤回 编号”撤回，例如“撤回 12”。")
    return "\n".join(lines)


async def my_tasks(turn: Turn, catalog: Catalog, directory: Directory) -> str:
    tasks = await store.pending_tasks_for(turn.user.id)
    if not tasks:
        return "目前没有待您处理的事项。"
    lines = [f"待您处理（{len(tasks)} 项）："]
    for task in tasks:
        application = task.application
        definition = catalog.known_definition(application)
        applicant = await directory.person(application.applicant_id)
        stage = definition.stage_by_id(task.stage_id).name if definition else task.stage_id
        name = definition.name if definition else application.flow_id
        who = applicant.name if applicant else application.applicant_id
        lines.append(f"#{application.id} {who}的{name} · {stage}")
    lines.append("可在卡片上操作，也可回复“同意 编号”或“驳回 编号 理由”，例如“同意 12”。")
    return "\n".join(lines)
