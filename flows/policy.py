"""Who may act on what: the one place that says whether an action on an application is allowed.

Every path that puts someone on an application — a stage's approver spec (`user:` included),
转交, 加签, a delegation — goes through `assignments` or `check_handover` here, and every tap or
text decision through `check_assignee`, so a rule added here holds for all of them:

- nobody acts on their own application: the applicant is taken out of a stage (their
  department head, or for a head the leader in charge, acts instead), cannot be the target of a
  转交 or 加签, and a delegation to the applicant is ignored (the principal keeps the card);
- 转交 and 加签 go to staff only (a student only when the stage says so), with a reason;
- an approver who would act twice in a row is asked once (`acted_last`) — unless either
  approval is a stand-in's for a missing approver (flows/assignment.py): then each level is
  asked for explicitly.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date

from flows.approvers import ApproverNotFound, resolve_approvers
from flows.assignment import Assignment as Found
from flows.assignment import assign
from flows.definition import Approver, FlowDefinition, Stage
from storage import applications as store
from storage.directory import Directory, PersonInfo
from storage.models import Application, ApprovalTask

log = logging.getLogger("campusbot.flows")

MIN_REASON = 2
#: honorifics people put after a surname: 钱老师, 陈处长
_TITLES = ("老师", "处长", "副处长", "主任", "副主任", "院长", "副院长", "部长", "副部长", "校长",
           "副校长", "书记", "副书记", "科长", "师傅", "工", "同学", "辅导员", "秘书", "干事")


class TapRefused(Exception):
    """An action that changes nothing; the message (Chinese) tells the user why."""


@dataclass(frozen=True)
class Assignment:
    """Who gets a card, and for whom when it went to their delegate."""

    person: PersonInfo
    delegated_from: PersonInfo | None = None


def is_student(person: PersonInfo) -> bool:
    return "student" in person.roles


def is_staff(person: PersonInfo) -> bool:
    """Staff are everyone who is not a student: directories differ in how they name roles
    (teacher, cadre, a post, or none at all after a WeCom sync), students are always marked."""
    return not is_student(person)


class Policy:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    # ---- who gets a stage ------------------------------------------------------------------------
    async def stage_assignment(self, definition: FlowDefinition, stage: Stage,
                               applicant: PersonInfo | None, *,
                               after: Collection[str] = ()) -> Found:
        """Who gets the stage (flows/assignment.py, with its stand-ins for directory gaps —
        other than `after`, who approved the step before, where possible), never the applicant
        themselves, each person once; `single` keeps the first."""
        found = await assign(definition, stage, applicant, self.directory, after=after)
        if applicant is None or found.nobody:
            return found
        others = [p for p in found.people if p.id != applicant.id]
        if not others:
            # `user:` naming the applicant, or a role only they hold: their head decides instead
            try:
                others = [p for p in await resolve_approvers(
                    Approver("department_head"), applicant, self.directory)
                    if p.id != applicant.id]
            except ApproverNotFound:
                others = []
        unique: dict[str, PersonInfo] = {}
        for person in others:
            unique.setdefault(person.id, person)
        people = list(unique.values())
        if stage.mode == "single":
            people = people[:1]
        return replace(found, people=tuple(people))

    async def assignments(self, found: Found, applicant: PersonInfo,
                          day: date) -> list[Assignment]:
        """Who gets the cards of a stage on `day`: delegations applied."""
        return [await self.delegated(person, applicant, day) for person in found.people]

    async def delegated(self, person: PersonInfo, applicant: PersonInfo,
                        day: date) -> Assignment:
        """`person`, or their delegate on `day` — unless the delegate is the applicant."""
        delegation = await store.delegation_on(person.id, day)
        if delegation is None or delegation.delegate_id in (applicant.id, person.id):
            return Assignment(person)
        delegate = await self.directory.person(delegation.delegate_id)
        if delegate is None:
            log.warning("delegate %s of %s is not in the directory", delegation.delegate_id,
                        person.id)
            return Assignment(person)
        return Assignment(delegate, delegated_from=person)

    # ---- who may act -----------------------------------------------------------------------------
    @staticmethod
    def check_assignee(task: ApprovalTask, application: Application, user_id: str) -> None:
        """Only the person a card was sent to acts on it, and never on their own application."""
        if task.approver_id != user_id:
            log.warning("card tap by someone else: card=%s application=%s assignee=%s user=%s",
                        task.card_key, application.id, task.approver_id, user_id)
            raise TapRefused("这张卡片不是发给您的，您无法处理。")
        if application.applicant_id == user_id:
            log.error("application=%s: the applicant holds a card of it", application.id)
            raise TapRefused("不能审批自己的申请。")

    async def check_handover(self, *, actor_id: str, target: PersonInfo,
                             application: Application, stage: Stage, reason: str,
                             holders: set[str], what: str) -> None:
        """转交 or 加签 (`what`) of a card to `target`."""
        if target.id == actor_id:
            raise TapRefused(f"不能{what}给自己。")
        if target.id == application.applicant_id:
            raise TapRefused(f"不能{what}给申请人本人：任何人都不能审批自己的申请。")
        if is_student(target) and not stage.transfer_to_students:
            raise TapRefused(f"只能{what}给教职工，{target.name}是学生。")
        if target.id in holders:
            raise TapRefused(f"{target.name}已在处理这一环节，无需{what}。")
        if len(reason.strip()) < MIN_REASON:
            raise TapRefused(f"请说明{what}的理由（至少 {MIN_REASON} 个字）。")

    async def check_delegate(self, principal: PersonInfo, delegate: PersonInfo) -> None:
        if delegate.id == principal.id:
            raise TapRefused("不能委托自己代理。")
        if not is_staff(delegate):
            raise TapRefused(f"只能委托教职工代理，{delegate.name}是学生。")

    # ---- asked once ------------------------------------------------------------------------------
    @staticmethod
    def last_approval(tasks: list[ApprovalTask]) -> ApprovalTask | None:
        decided = [t for t in tasks if t.status == "approved" and t.decided_at is not None]
        return max(decided, key=lambda t: (t.decided_at, t.id)) if decided else None

    @classmethod
    def acted_last(cls, tasks: list[ApprovalTask], person_id: str) -> bool:
        """Whether the last approval on the application was `person_id`'s: asking them again
        right after adds nothing (审批人去重, for approvals in a row only)."""
        last = cls.last_approval(tasks)
        return last is not None and last.decided_by == person_id

    # ---- finding people by what users type -------------------------------------------------------
    async def find_people(self, words: str) -> list[PersonInfo]:
        """People for 钱老师, 钱处长, a name or an id: exact first, then by surname and title."""
        words = words.strip().strip("。.，,")
        people = await self.directory.find(words)
        if people:
            return people
        for title in sorted(_TITLES, key=len, reverse=True):
            if words.endswith(title) and len(words) > len(title):
                stem = words[: -len(title)]
                candidates = await self.directory.find(stem)
                return [p for p in candidates if p.name.startswith(stem)]
        return []
