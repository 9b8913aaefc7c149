"""What an approver's card shows, and the words for what happened to it."""

from __future__ import annotations

from flows.answers import short_value
from flows.messages import Button, Card
from flows.session import FlowSession
from flows.texts import answered_fields
from storage.directory import PersonInfo
from storage.models import Application, ApprovalTask

STAGE_BUTTONS = {
    "approve": (Button("approve", "同意"), Button("reject", "驳回", "danger"),
                Button("transfer", "转交", "default")),
    # a job that cannot be done (or lacks material) goes back to the applicant with a reason
    "handle": (Button("approve", "办结"), Button("reject", "退回", "danger"),
               Button("transfer", "转交", "default")),
    "acknowledge": (Button("approve", "签收"),),
}
DECISION_WORDS = {"approve": "同意", "reject": "驳回"}
STAGE_DONE_WORDS = {"approve": "同意", "handle": "办结", "acknowledge": "签收"}


def decision_word(stage_kind: str, action: str) -> str:
    """同意/办结/签收 for an approval, 驳回 (退回 for a handling stage) for a rejection."""
    if action == "approve":
        return STAGE_DONE_WORDS[stage_kind]
    return "退回" if stage_kind == "handle" else "驳回"


def stage_card(application: Application, session: FlowSession, stage_id: str,
               task: ApprovalTask, applicant: PersonInfo) -> Card:
    definition = session.definition
    stage = definition.stage_by_id(stage_id)
    keys = stage.card_facts or tuple(f.key for f in answered_fields(session))[:5]
    facts = [("申请人", applicant.name)]
    for key in keys:
        if key in session.form and session.applies(definition.field_by_key(key)):
            item = definition.field_by_key(key)
            facts.append((item.label, short_value(item, session.form[key])))
    return Card(
        card_key=task.card_key,
        title=f"{applicant.name}的{definition.name}",
        subtitle=f"{stage.name} · 编号 #{application.id}",
        facts=tuple(facts[:6]),
        buttons=STAGE_BUTTONS[stage.kind],
        application_id=application.id,
    )


def task_outcome(task: ApprovalTask, application: Application) -> str:
    """A decided card's final state, e.g. 已同意, 申请人已撤回."""
    match task.status:
        case "approved":
            return "已同意" if not task.comment else f"已同意（{task.comment}）"
        case "rejected":
            return "已驳回"
        case "transferred":
            return task.comment or "已转交"
        case "closed":
            return {"withdrawn": "申请人已撤回", "rejected": "已被驳回",
                    "cancelled": "已取消"}.get(application.status, "已由他人处理")
    return "已处理"
