"""Who gets a stage, resolved afresh each time a stage opens — and what happens when the
directory cannot say.

A stage whose approver cannot be found goes to a stand-in (`fallbacks_of`); the application is
marked and the administrators are told. A missing unit-level approver (a department head, a
post) is stood in for by the flow's `fallback`, then the head of the flow's unit, then the
unit's 分管校领导. A missing school-leader-level approver (a 分管校领导, the 校领导
department's head or leader, or a head's own request when nobody stands above them) goes to
the flow unit's 分管校领导, then the school's leadership (校领导: its head, its leader, else
another member) — a subordinate never stands in for a school leader — and only when the school
has no leader at all to the others. A stand-in who approved the step right before is passed over for
the next one (two levels are not collapsed into one person); only when nobody else is left do
they get it again, asked explicitly. When no stand-in can be found, nobody gets it yet: the
application waits, the applicant is told whom to contact, and the stage is assigned again once
the directory changes.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from flows.approvers import ApproverNotFound, Gap, describe, describe_for, resolve_approvers
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
    #: describe(fallback) and describe_all(tried) with the school's own unit names
    fallback_text: str = ""
    tried_text: str = ""
    #: the stand-in approved the step right before, and nobody else could be found
    again: bool = False
    #: when nobody: the school's own name of the unit the applicant may contact meanwhile
    contact_unit: str = ""

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
        return f"{self.gap.text()}，暂由{self.fallback_text or describe(self.fallback)}处理"


LEADER_FORMS = ("leader_in_charge", "leader_in_charge_of", "school_leadership")
SCHOOL_LEADERSHIP = Approver("school_leadership")


def fallbacks_of(definition: FlowDefinition, gap: Gap | None = None) -> tuple[Approver, ...]:
    """Who stands in for a missing approver, in order (see the module's docstring)."""
    unit_head = Approver("head_of", definition.unit)
    own = () if definition.fallback is None or definition.fallback == unit_head else \
        (definition.fallback,)
    unit_leader = Approver("leader_in_charge_of", definition.unit)
    if gap is not None and gap.leader_level:
        leaders = tuple(a for a in own if a.form in LEADER_FORMS)
        return tuple(dict.fromkeys((*leaders, unit_leader, SCHOOL_LEADERSHIP, *own,
                                    unit_head)))
    return tuple(dict.fromkeys((*own, unit_head, unit_leader)))


def describe_all(approvers: tuple[Approver, ...]) -> str:
    return "、".join(describe(a) for a in approvers)


async def assign(definition: FlowDefinition, stage: Stage, applicant: PersonInfo | None,
                 directory: Directory, *, after: Collection[str] = ()) -> Assignment:
    """Who acts on `stage` for `applicant` now, and what is missing if anything. `after`: who
    approved the step right before (a stand-in is somebody else where possible)."""
    person = applicant or PersonInfo("", "", None)
    try:
        if applicant is None:
            raise ApproverNotFound(Gap("applicant_unknown", "?"))
        return Assignment(tuple(await resolve_approvers(stage.approver, applicant, directory)))
    except ApproverNotFound as missing:
        gap = missing.gap
    fallbacks = fallbacks_of(definition, gap)
    texts = [await describe_for(f, directory) for f in fallbacks]
    last_gap: Gap | None = None
    repeated: Assignment | None = None
    for fallback, text in zip(fallbacks, texts, strict=True):
        try:
            people = [p for p in await resolve_approvers(fallback, person, directory)
                      if p.id != person.id]
        except ApproverNotFound as also_missing:
            last_gap = also_missing.gap
            continue
        if not people:
            continue
        fresh = [p for p in people if p.id not in after]
        found = Assignment(tuple(fresh or people), gap, fallback, tried=fallbacks,
                           fallback_text=text, tried_text="、".join(texts), again=not fresh)
        if fresh:
            return found
        repeated = repeated or found
    if repeated is not None:
        return repeated
    unit = definition.contact.unit or definition.unit
    department = await directory.department_named(unit)
    return Assignment((), gap, fallbacks[-1], last_gap, tried=fallbacks,
                      fallback_text=texts[-1], tried_text="、".join(texts),
                      contact_unit=department.name if department else unit)


def contact_hint(definition: FlowDefinition, unit: str = "") -> str:
    """Whom the applicant can ask meanwhile: the guide's contact (`unit`: the school's own
    name of its unit) — only the office while the contact is still the shipped sample (a
    sample person or phone would send them nowhere)."""
    contact = definition.contact
    unit = unit or contact.unit or definition.unit
    if contact.sample:
        return unit
    who = "，".join(part for part in (contact.person, f"电话 {contact.phone}" if contact.phone
                                     else "") if part)
    return f"{unit}{contact.section}" + (f"（{who}）" if who else "")


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
                f"通讯录补充后会自动送达。如需尽快办理，请联系"
                f"{contact_hint(definition, assignment.contact_unit)}。")
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
        text = (f"通讯录缺失：{gap.text()}。{where}无法派单，可以代为处理的"
                f"{assignment.tried_text}也都找不到（{also}），申请已保留，"
                "通讯录补充后会自动送达。")
    else:
        again = "（前一环节也由其审批，已请其再次确认）" if assignment.again else ""
        text = (f"通讯录缺失：{gap.text()}。{where}已暂由{assignment.names()}"
                f"（{assignment.fallback_text}）代为处理{again}。")
    text += "补充通讯录后可运行 campusbot directory check 核对。"
    if not admins:
        log.warning("no [admin] users configured: nobody is told that %s", gap.text())
    # once per gap and stage for each state of the directory: a change that does not fix it
    # tells again, new applications hitting the same gap do not
    key = f"gap:{definition.id}:{stage.id}:{gap.kind}:{gap.subject}:{generation}"
    for admin in admins:
        turn.push(admin, text, dedupe_key=f"{key}:{admin}"[:255])
