"""Resolve a stage's approver spec to people in the directory, or say exactly what is missing.

Units are named as the school's notice names them (`head_of:人事处`) and found by department
name, then alias (storage/directory_snapshot.py). What to do when nobody fits — a fallback, or
waiting for the directory to be fixed — is decided in flows/assignment.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.definition import Approver
from storage.directory import DepartmentInfo, Directory, PersonInfo
from storage.roles import role_label


@dataclass(frozen=True)
class Gap:
    """What the directory lacks for a stage, in a form that groups (the same gap in many
    flows is one thing to fix) and reads as words."""

    kind: str       # no_department | no_head | no_leader | no_role_holder | no_counselor |
    #                 no_user | unknown_head | unknown_leader | applicant_unknown |
    #                 applicant_department | own_head (the head applies; `detail`: what then)
    subject: str    # a department name, role code or user id
    detail: str = ""
    #: the department is the school's leadership (校领导): its head is the 校长
    leadership: bool = False
    #: for own_head: why nobody stands above the head (what to fix)
    cause: Gap | None = None

    @property
    def leader_level(self) -> bool:
        """What is missing is a school leader's approval, so a stand-in must be one too."""
        return self.leadership or self.kind in ("no_leader", "unknown_leader", "own_head")

    def text(self) -> str:
        match self.kind:
            case "no_department":
                return f"通讯录中没有名为“{self.subject}”的部门"
            case "no_head" if self.leadership:
                return f"{self.subject}：未设置主要负责人（校长）"
            case "no_head":
                return f"{self.subject}：未设置负责人"
            case "no_leader" if self.leadership:
                return f"{self.subject}：未指定审批校长本人申请的校领导（通常是党委书记）"
            case "no_leader":
                return f"{self.subject}：未设置分管校领导"
            case "own_head" if self.cause is not None:
                # never "负责人找不到": the head is there, but is the applicant
                cause = self.cause.text().removeprefix(f"{self.subject}：")
                return f"{self.subject}：负责人是申请人本人，且{cause}"
            case "unknown_head":
                return f"{self.subject}：负责人 {self.detail} 不在通讯录中"
            case "unknown_leader":
                return f"{self.subject}：分管校领导 {self.detail} 不在通讯录中"
            case "no_role_holder":
                return f"没有人担任 {role_label(self.subject)}"
            case "no_counselor":
                return f"{self.detail or self.subject}没有登记辅导员"
            case "no_user":
                return f"通讯录中没有用户 {self.subject}"
            case "applicant_department":
                return f"{self.detail or self.subject}没有所在部门"
        return f"申请人 {self.subject} 不在通讯录中"


class ApproverNotFound(LookupError):
    """Nobody in the directory fits; `gap` says what is missing, str() in Chinese."""

    def __init__(self, gap: Gap) -> None:
        super().__init__(gap.text())
        self.gap = gap


async def effective_roles(person: PersonInfo, directory: Directory) -> tuple[str, ...]:
    """The person's roles as the directory knows them (implied roles included)."""
    known = await directory.person(person.id)
    return known.roles if known is not None else person.roles


async def _own_department(directory: Directory, applicant: PersonInfo) -> DepartmentInfo:
    department = await directory.department(applicant.department) if applicant.department \
        else None
    if department is None:
        raise ApproverNotFound(Gap("applicant_department", applicant.id, applicant.name))
    return department


async def _named(directory: Directory, name: str) -> DepartmentInfo:
    department = await directory.department_named(name)
    if department is None:
        raise ApproverNotFound(Gap("no_department", name))
    return department


async def _head(directory: Directory, department: DepartmentInfo,
                applicant: PersonInfo) -> list[PersonInfo]:
    if department.head == applicant.id:
        # nobody approves their own request: it goes to the school leader in charge
        try:
            return await _leader(directory, department, applicant)
        except ApproverNotFound as missing:
            raise ApproverNotFound(Gap("own_head", department.name,
                                       leadership=missing.gap.leadership,
                                       cause=missing.gap)) from None
    if not department.head:
        raise ApproverNotFound(Gap("no_head", department.name,
                                   leadership=department.kind == "leadership"))
    head = await directory.person(department.head)
    if head is None:
        raise ApproverNotFound(Gap("unknown_head", department.name, department.head))
    return [head]


async def _leader(directory: Directory, department: DepartmentInfo,
                  applicant: PersonInfo) -> list[PersonInfo]:
    if department.kind == "leadership":
        # a school leader's request goes to the head of the leadership group (校长), or for the
        # head himself to the group's own leader (书记)
        candidates = [department.head, department.leader]
    elif department.leader == applicant.id:
        # the leader in charge applies for themselves: the school's leadership decides
        candidates = []
        for group in await directory.departments():
            if group.kind == "leadership":
                candidates += [group.head, group.leader]
    else:
        candidates = [department.leader]
    for candidate in candidates:
        if candidate and candidate != applicant.id:
            leader = await directory.person(candidate)
            if leader:
                return [leader]
    if department.kind == "leadership" and department.head != applicant.id:
        # another school leader's request: the 校长 is what is missing
        if department.head:
            raise ApproverNotFound(Gap("unknown_head", department.name, department.head,
                                       leadership=True))
        raise ApproverNotFound(Gap("no_head", department.name, leadership=True))
    if department.leader and department.leader != applicant.id:
        raise ApproverNotFound(Gap("unknown_leader", department.name, department.leader))
    raise ApproverNotFound(Gap("no_leader", department.name,
                               leadership=department.kind == "leadership"))


async def _school_leadership(directory: Directory, applicant: PersonInfo) -> list[PersonInfo]:
    """The school's leadership as the last stand-in: the 校领导 department's head (校长),
    its leader (书记), else its first other member — never the applicant."""
    groups = [d for d in await directory.departments() if d.kind == "leadership"]
    candidates = [d.head for d in groups] + [d.leader for d in groups]
    members = sorted(((p.id, p) for p in await directory.with_role("school_leader")
                      if p.department in {d.id for d in groups}), key=lambda item: item[0])
    candidates += [user_id for user_id, _ in members]
    for candidate in candidates:
        if candidate and candidate != applicant.id:
            person = await directory.person(candidate)
            if person is not None:
                return [person]
    raise ApproverNotFound(Gap("no_head", groups[0].name if groups else "校领导",
                               leadership=True))


async def resolve_approvers(approver: Approver, applicant: PersonInfo,
                            directory: Directory) -> list[PersonInfo]:
    """Everyone who may act on a stage with this approver spec, for this applicant."""
    match approver.form:
        case "department_head":
            return await _head(directory, await _own_department(directory, applicant), applicant)
        case "head_of":
            return await _head(directory, await _named(directory, approver.argument), applicant)
        case "leader_in_charge":
            return await _leader(directory, await _own_department(directory, applicant),
                                 applicant)
        case "leader_in_charge_of":
            return await _leader(directory, await _named(directory, approver.argument), applicant)
        case "counselor":
            counselor = await directory.person(applicant.counselor) if applicant.counselor else None
            if counselor is None:
                raise ApproverNotFound(Gap("no_counselor", applicant.id, applicant.name))
            return [counselor]
        case "role":
            holders = await directory.with_role(approver.argument)
            if not holders:
                raise ApproverNotFound(Gap("no_role_holder", approver.argument))
            people = [p for p in holders if p.id != applicant.id]
            # the only holder is applying: their own department head decides instead
            return people or await _head(directory, await _own_department(directory, applicant),
                                         applicant)
        case "school_leadership":
            return await _school_leadership(directory, applicant)
        case "user":
            person = await directory.person(approver.argument)
            if person is None:
                raise ApproverNotFound(Gap("no_user", approver.argument))
            return [person]
    raise ValueError(f"unknown approver form {approver.form!r}")


def describe(approver: Approver) -> str:
    """The approver spec in words: 人事处负责人, IT运维（it_support）, 申请人所在部门负责人."""
    match approver.form:
        case "department_head":
            return "申请人所在部门负责人"
        case "head_of":
            return f"{approver.argument}负责人"
        case "leader_in_charge":
            return "申请人所在部门的分管校领导"
        case "leader_in_charge_of":
            return f"{approver.argument}的分管校领导"
        case "counselor":
            return "申请人的辅导员"
        case "role":
            return role_label(approver.argument)
        case "school_leadership":
            return "校领导"
    return f"用户 {approver.argument}"


async def describe_for(approver: Approver, directory: Directory) -> str:
    """describe(), with the school's own name for a unit the flow names as the notice does
    (人事处 → 人事部 where the directory calls it so)."""
    if approver.form in ("head_of", "leader_in_charge_of"):
        department = await directory.department_named(approver.argument)
        if department is not None and department.name != approver.argument:
            return describe(Approver(approver.form, department.name))
    return describe(approver)
