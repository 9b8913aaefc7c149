"""Who gets a stage, resolved afresh each time a stage opens — and what happens when the
directory cannot say.

A stage whose approver cannot be found goes to the flow's fallback (its `fallback`, and when
that cannot be found either, the head of the flow's unit); the application is marked and the
administrators are told. When no fallback can be found, nobody gets it yet: the application
waits, the applicant is told whom to contact, and the stage is assigned again once the
directory changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from flows.approvers import ApproverNotFound, Gap, describe, resolve_approvers
from flows.definition import Approver, FlowDefinition, Stage
from flows.turn import Turn
from storage import applications as store
from storage import assignments
from storage.directory import Directory, PersonInfo
from storage.models import Application

log = logging.getLogger("campusbot.flows")


@dataclass(frozen=True)
class Assignment:
    people: tuple[PersonInfo, ...]
    #: why the stage's own approver could not be found (None: found)
    gap: Gap | None = None
    #: the fallback the people stand in for (when `gap`; when nobody: the last one tried)
    fallback: Approver | None = None
    #: why not even the fallback could be found (then `people` is empty)
    fallback_gap: Gap | None = None
    #: every fallback tried, in order (for messages when nobody was found)
    tried: tuple[Approver, ...] = ()

    @property
    def via_fallback(self) -> bool:
        return self.gap is not None and bool(self.people)

    @property
    def nobody(self) -> bool:
        return not self.people

    def names(self, limit: int = 3) -> str:
        shown = "、".join(p.name for p in self.people[:limit])
        return shown + ("等" if len(self.people) > limit else "")

    def standing_in(self) -> str:
        """Why the people get this stage, for them and the administrators (Chinese)."""
        assert self.gap is not None and self.fallback is not None
        return f"{self.gap.text()}，暂由{describe(self.fallback)}处理"


def fallbacks_of(definition: FlowDefinition) -> tuple[Approver, ...]:
    """The flow's own `fallback`, then the head of the flow's unit."""
    unit_head = Approver("head_of", definition.unit)
    if definition.fallback is None or definition.fallback == unit_head:
        return (unit_head,)
    return definition.fallback, unit_head


def describe_all(approvers: tuple[Approver, ...]) -> str:
    return "、".join(describe(a) for a in approvers)


async def assign(definition: FlowDefinition, stage: Stage, applicant: PersonInfo | None,
                 directory: Directory) -> Assignment:
    """Who acts on `stage` for `applicant` now, and what is missing if anything."""
    person = applicant or PersonInfo("", "", None)
    try:
        if applicant is None:
            raise ApproverNotFound(Gap("applicant_unknown", "?"))
        return Assignment(tuple(await resolve_approvers(stage.approver, applicant, directory)))
    except ApproverNotFound as missing:
        gap = missing.gap
    fallbacks = fallbacks_of(definition)
    last_gap: Gap | None = None
    for fallback in fallbacks:
        try:
            people = await resolve_approvers(fallback, person, directory)
        except ApproverNotFound as also_missing:
            last_gap = also_missing.gap
            continue
        return Assignment(tuple(people), gap, fallback, tried=fallbacks)
    return Assignment((), gap, fallbacks[-1], last_gap, tried=fallbacks)


def contact_hint(definition: FlowDefinition) -> str:
    """Whom the applicant can ask meanwhile: the guide's contact — only the office while the
    contact is still the shipped sample (a sample person or phone would send them nowhere)."""
    contact = definition.contact
    if contact.sample:
        return contact.unit or definition.unit
    who = "，".join(part for part in (contact.person, f"电话 {contact.phone}" if contact.phone
                                     else "") if part)
    return f"{contact.unit or definition.unit}{contact.section}" + (f"（{who}）" if who else "")


async def report_gap(turn: Turn, application: Application, definition: FlowDefinition,
                     stage: Stage, assignment: Assignment, *, admins: Sequence[str],
                     generation: int) -> str:
    """Mark the application, tell the administrators once and the stand-ins why; returns what
    to tell the applicant ("" when they need not know)."""
    if assignment.gap is None:
        return ""
    gap = assignment.gap
    if await assignments.open_issue(application.id, stage.id) is None:
        state = assignments.WAITING if assignment.nobody else assignments.FALLBACK
        await assignments.record(application, stage_id=stage.id, gap=gap.text(), state=state,
                                 fallback_ids=[p.id for p in assignment.people], now=turn.now)
        await store.append_audit(application, at=turn.now, actor_id="system",
                                 action=f"assign_{state}", from_state=application.state,
                                 to_state=application.state,
                                 detail={"stage": stage.id, "gap": gap.text(),
                                         "fallback": [p.id for p in assignment.people]})
        log.warning("flow=%s application=%s stage=%s: %s; %s", definition.id, application.id,
                    stage.id, gap.text(), "nobody to assign, waiting" if assignment.nobody
                    else f"fallback to {','.join(p.id for p in assignment.people)}")
        _tell_admins(turn, application, definition, stage, assignment, admins, generation)
    where = f"《{definition.name}》（#{application.id}）的“{stage.name}”"
    if assignment.nobody:
        return (f"⚠ “{stage.name}”暂时找不到办理人（{gap.text()}），申请已保留，"
                f"通讯录补充后会自动送达。如需尽快办理，请联系{contact_hint(definition)}。")
    for person in assignment.people:
        turn.push(person.id, f"{where}暂由您代为处理（{gap.text()}）。")
    return ""


def _tell_admins(turn: Turn, application: Application, definition: FlowDefinition,
                 stage: Stage, assignment: Assignment, admins: Sequence[str],
                 generation: int) -> None:
    assert assignment.gap is not None and assignment.fallback is not None
    gap = assignment.gap
    where = f"《{definition.name}》的“{stage.name}”（申请 #{application.id}）"
    if assignment.nobody:
        also = assignment.fallback_gap.text() if assignment.fallback_gap else ""
        text = (f"通讯录缺失：{gap.text()}。{where}无法派单，代为处理的"
                f"{describe_all(assignment.tried)}也找不到（{also}），申请已保留，"
                "通讯录补充后会自动送达。")
    else:
        text = (f"通讯录缺失：{gap.text()}。{where}已暂由{assignment.names()}"
                f"（{describe(assignment.fallback)}）代为处理。")
    text += "补充通讯录后可运行 campusbot directory check 核对。"
    if not admins:
        log.warning("no [admin] users configured: nobody is told that %s", gap.text())
    # once per gap and stage for each state of the directory: a change that does not fix it
    # tells again, new applications hitting the same gap do not
    key = f"gap:{definition.id}:{stage.id}:{gap.kind}:{gap.subject}:{generation}"
    for admin in admins:
        turn.push(admin, text, dedupe_key=f"{key}:{admin}"[:255])
