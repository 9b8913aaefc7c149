"""What an approver's card shows, and the words for what happened to it.

A card carries what a decision needs: the facts the stage marks (`card_facts`), a leave's dates
as one range (12月7日–12月9日，3天), attachments the approver can open, and warnings such as the
applicant's other leave in the same days. Sensitive answers are shown here — approvers may see
them — and nowhere else but to the applicant (`public_facts` leaves them out).
"""

from __future__ import annotations

from datetime import date, timedelta
from math import ceil
from typing import Any

from flows.answers import short_value
from flows.definition import Field, FlowDefinition
from flows.messages import Button, Card, Outcome
from flows.session import FlowSession
from flows.texts import answered_fields
from flows.workdays import range_text
from storage.directory import PersonInfo
from storage.models import Application, ApprovalTask

STAGE_BUTTONS = {
    "approve": (Button("approve", "同意"), Button("reject", "驳回", "danger"),
                Button("return", "退回修改", "default"), Button("transfer", "转交", "default"),
                Button("add", "加签", "default")),
    # a job that cannot be done (or lacks material) goes back to the applicant with a reason
    "handle": (Button("approve", "办结"), Button("reject", "退回", "danger"),
               Button("transfer", "转交", "default")),
    "acknowledge": (Button("approve", "签收"),),
}
DECISION_WORDS = {"approve": "同意", "reject": "驳回"}
STAGE_DONE_WORDS = {"approve": "同意", "handle": "办结", "acknowledge": "签收"}
FACTS_MAX = 6


def decision_word(stage_kind: str, action: str) -> str:
    """同意/办结/签收 for an approval, 驳回 (退回 for a handling stage) for a rejection."""
    if action == "approve":
        return STAGE_DONE_WORDS[stage_kind]
    return "退回" if stage_kind == "handle" else "驳回"


# ---- leave dates --------------------------------------------------------------------------------

def leave_fields(definition: FlowDefinition) -> tuple[str, str, str] | None:
    """(start_field, days_field, range_field) of a leave flow (one with 销假), else None."""
    for followup in definition.followups:
        if followup.kind == "report_back":
            return followup.start_field, followup.days_field, followup.range_field
    return None


def leave_range(definition: FlowDefinition, form: dict[str, Any]) -> tuple[date, date] | None:
    """First and last day of the leave the form asks for."""
    keys = leave_fields(definition)
    if keys is None:
        return None
    start_key, days_key, range_key = keys
    try:
        if range_key:
            first, last = form[range_key]
            return date.fromisoformat(first), date.fromisoformat(last)
        start = date.fromisoformat(form[start_key])
        days = float(form[days_key])
    except (KeyError, TypeError, ValueError):
        return None
    return start, start + timedelta(days=max(ceil(days), 1) - 1)


def recorded_leave(definition: FlowDefinition, application: Application) -> tuple[date, date]:
    """The leave as recorded: shortened when the applicant came back early (销假)."""
    actual = (application.meta or {}).get("leave_actual")
    if actual:
        return date.fromisoformat(actual[0]), date.fromisoformat(actual[1])
    found = leave_range(definition, application.form)
    assert found is not None
    return found


def leave_text(definition: FlowDefinition, form: dict[str, Any]) -> str:
    found = leave_range(definition, form)
    if found is None:
        return ""
    keys = leave_fields(definition)
    days = None
    if keys and not keys[2]:
        days = float(form[keys[1]])
    return range_text(found[0], found[1], days)


# ---- facts --------------------------------------------------------------------------------------

def is_sensitive(session: FlowSession, item: Field) -> bool:
    if item.sensitive_when is not None:
        return item.sensitive_when.evaluate(session.condition_values())
    return item.sensitive


def facts_of(session: FlowSession, keys: tuple[str, ...], *,
             with_sensitive: bool) -> list[tuple[str, str]]:
    """(label, value) for `keys`; a leave's start and days become one 请假时间 range."""
    definition = session.definition
    leave = leave_fields(definition)
    folded = {k for k in (leave or ()) if k}
    facts: list[tuple[str, str]] = []
    shown_range = False
    for key in keys:
        try:
            item = definition.field_by_key(key)
        except KeyError:
            continue
        if key not in session.form or not session.applies(item):
            continue
        if key in folded:
            if not shown_range and (text := leave_text(definition, session.form)):
                facts.append(("请假时间", text))
                shown_range = True
            continue
        if not with_sensitive and is_sensitive(session, item):
            continue
        facts.append((item.label, short_value(item, session.form[key])))
    return facts


def card_keys(session: FlowSession, stage_id: str) -> tuple[str, ...]:
    """The stage's card facts, plus any range partner and answered conditional details the
    flow asks for (a destination when the applicant leaves the city)."""
    definition = session.definition
    stage = definition.stage_by_id(stage_id)
    keys = list(stage.card_facts or tuple(f.key for f in answered_fields(session))[:5])
    for key in keys[:]:
        # a yes/no whose answer opened a follow-up question (离开本市 → 外出地点): the follow-up
        # answer says more, so it takes the yes/no's place
        details = [item.key for item in definition.fields
                   if item.when is not None and key in item.when.names and item.key not in keys
                   and item.key in session.form and session.applies(item)
                   and item.type not in ("attachment", "phone")]
        if details and definition.field_by_key(key).type == "yesno":
            index = keys.index(key)
            keys[index:index + 1] = details
    return tuple(keys)


def attachments_of(session: FlowSession) -> tuple[dict[str, str], ...]:
    found = []
    for item in answered_fields(session):
        value = session.form.get(item.key)
        if item.type == "attachment" and isinstance(value, dict):
            found.append({"name": str(value.get("name") or "附件"),
                          "url": str(value.get("url") or ""),
                          "media_id": str(value.get("media_id") or "")})
    return tuple(found)


def stage_card(application: Application, session: FlowSession, stage_id: str,
               task: ApprovalTask, applicant: PersonInfo, *, warnings: tuple[str, ...] = (),
               note: str = "") -> Card:
    definition = session.definition
    stage = definition.stage_by_id(stage_id)
    facts = [("申请人", applicant.name)]
    facts += facts_of(session, card_keys(session, stage_id), with_sensitive=True)
    attachments = attachments_of(session)
    # attachments travel apart from the facts: channels make them openable on the card (WeCom:
    # a file or link entry), and the message under the card lists them for the others
    facts = facts[:FACTS_MAX - len(attachments[:1])]
    facts += [("注意", warning) for warning in warnings]
    subtitle = f"{stage.name} · 编号 #{application.id}"
    if note:
        subtitle += f"\n{note}"
    return Card(
        card_key=task.card_key,
        title=f"{applicant.name}的{definition.name}",
        subtitle=subtitle,
        facts=tuple(facts),
        buttons=STAGE_BUTTONS[stage.kind],
        application_id=application.id,
        attachments=attachments,
    )


def attachment_lines(card: Card) -> str:
    """The message under a card: each attachment with how to open it."""
    lines = []
    for attachment in card.attachments:
        where = f"：{attachment['url']}" if attachment["url"] else "（点卡片上的附件打开）"
        lines.append(f"📎 编号 #{card.application_id} 的附件 {attachment['name']}{where}")
    return "\n".join(lines)


def task_outcome(task: ApprovalTask, application: Application) -> tuple[str, Outcome]:
    """A decided card's final state, e.g. (已同意, approved), (申请人已撤回, withdrawn)."""
    match task.status:
        case "approved":
            return ("已同意" if not task.comment else f"已同意（{task.comment}）"), "approved"
        case "rejected":
            return "已驳回", "rejected"
        case "transferred":
            return task.comment or "已转交", "transferred"
        case "returned":
            return "已退回修改", "returned"
        case "added":
            return task.comment or "已加签", "added"
        case "closed":
            return {"withdrawn": ("申请人已撤回", "withdrawn"),
                    "rejected": ("已被驳回", "rejected"),
                    "returned": ("已退回修改", "returned"),
                    "cancelled": ("已取消", "closed")}.get(application.status,
                                                          ("已由他人处理", "closed"))
    return "已处理", "closed"
