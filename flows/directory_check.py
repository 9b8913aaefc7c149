"""`campusbot directory check`: for every flow and stage, who gets it for a sample applicant of
each department and role, and what the directory still lacks, in words.

The same resolution and fallback as a running application (flows/assignment.py), on one
in-memory snapshot of the directory. Output formats are in flows/directory_report.py.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from flows.approvers import Gap, describe, describe_for
from flows.assignment import Assignment, assign, describe_all
from flows.catalog import notice_order
from flows.definition import FlowDefinition, Stage
from flows.validation import APPLICANT_NAMES
from storage.directory import PersonInfo
from storage.directory_snapshot import DirectorySnapshot
from storage.roles import ANYONE, ROLE_LABELS, role_label

NO_DEPARTMENT = "（无所在部门）"


@dataclass(frozen=True)
class Route:
    """Who gets a stage for one sample applicant."""

    department: str
    role: str
    applicant: str
    approvers: tuple[str, ...]
    #: the sample applicant heads their department (their requests go elsewhere)
    head: bool = False
    #: what is missing ("" when the stage's own approver was found)
    gap: str = ""
    #: who stands in (describe(fallback)), when `gap`
    fallback: str = ""


@dataclass(frozen=True)
class StageReport:
    id: str
    name: str
    approver: str
    approver_text: str
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class FlowReport:
    id: str
    name: str
    unit: str
    status: str
    online: bool
    stages: tuple[StageReport, ...]
    #: how many people may apply
    applicants: int


@dataclass(frozen=True)
class Effect:
    flows: tuple[str, ...]
    consequence: str
    #: someone stands in (else the applications wait)
    covered: bool = True

    def text(self) -> str:
        if not self.flows:
            return self.consequence
        return f"{'、'.join(self.flows)} 无法派单，{self.consequence}"


@dataclass(frozen=True)
class Finding:
    """One thing to fix in the directory, and what it does to which flows."""

    gap: str
    effects: tuple[Effect, ...]

    @property
    def flows(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f for effect in self.effects for f in effect.flows))

    def text(self) -> str:
        """The gap and its first effect on one line, further effects on lines below."""
        separator = "，" if "：" in self.gap else "："
        first, *more = self.effects
        return "\n".join([f"{self.gap}{separator}{first.text()}",
                          *(f"   另：{effect.text()}" for effect in more)])


@dataclass
class DirectoryReport:
    flows: list[FlowReport] = field(default_factory=list)
    #: stages that do not resolve (each makes the check fail)
    findings: list[Finding] = field(default_factory=list)
    #: where the directory file and the synced directory do not meet (each makes it fail)
    file_problems: list[str] = field(default_factory=list)
    #: worth knowing, not failing: audience roles nobody holds, missing reviewers
    notes: list[str] = field(default_factory=list)
    departments: int = 0
    people: int = 0
    #: the file has errors: a server would refuse it (only its well-formed entries were checked)
    refused: bool = False

    @property
    def ok(self) -> bool:
        return not self.findings and not self.file_problems

    def refuse(self, errors: list[str]) -> None:
        """The file's own errors, before the problems its well-formed entries show."""
        if errors:
            self.refused = True
            self.file_problems[:0] = errors

    def summary(self) -> str:
        """One line, for the log after every sync and directory change."""
        if self.refused:
            return (f"通讯录检查：通讯录文件有错误，服务器不会采用它（仍使用上一次的内容）；"
                    f"通讯录文件问题 {len(self.file_problems)} 处（全部列出），"
                    "以下按其中格式正确的条目检查")
        online = [f for f in self.flows if f.online]
        complete = sum(1 for f in online if all(not r.gap for s in f.stages for r in s.routes))
        if self.ok:
            return (f"通讯录检查：{self.departments} 个部门、{self.people} 人；"
                    f"{len(online)} 个在线流程全部可以派单")
        affected = {name for finding in self.findings for name in finding.flows}
        return (f"通讯录检查：{self.departments} 个部门、{self.people} 人；"
                f"{complete}/{len(online)} 个在线流程可以完整派单，{len(affected)} 个流程有缺失"
                f"（{len(self.findings)} 处），通讯录文件问题 {len(self.file_problems)} 处；"
                "详情请运行 campusbot directory check")


def _audience(definition: FlowDefinition, person: PersonInfo) -> str | None:
    """The audience role the person applies as (None: may not apply)."""
    if ANYONE in definition.audience:
        return ANYONE
    return next((role for role in definition.audience if role in person.roles), None)


def samples(definition: FlowDefinition, directory: DirectorySnapshot) -> list[PersonInfo]:
    """One applicant per department and audience role (the first by id), and the department's
    head too when they may apply (their requests go elsewhere)."""
    chosen: dict[tuple[str | None, str, bool], PersonInfo] = {}
    for person in directory.everyone():
        roles = [ANYONE] if ANYONE in definition.audience else [
            r for r in definition.audience if r in person.roles]
        department = directory.departments_by_id.get(person.department or "")
        heads = department is not None and department.head == person.id
        for role in roles:
            chosen.setdefault((person.department, role, heads), person)
    unique: dict[str, PersonInfo] = {}
    for person in chosen.values():
        unique.setdefault(person.id, person)
    return list(unique.values())


def _applies(stage: Stage, person: PersonInfo) -> bool:
    """A stage only for some applicants ('student' in applicant_roles) is only checked for
    the applicants it applies to; conditions on the answers are assumed to hold."""
    if stage.when is None or not stage.when.names <= set(APPLICANT_NAMES):
        return True
    return bool(stage.when.evaluate({
        "applicant_roles": list(person.roles), "applicant_department": person.department,
        "applicant_is_head": "dept_head" in person.roles}))


def _consequence(assignment: Assignment) -> str:
    assert assignment.fallback is not None
    if assignment.people:
        return f"暂由{assignment.fallback_text or describe(assignment.fallback)}处理"
    also = assignment.fallback_gap.text() if assignment.fallback_gap else ""
    return (f"且可以代为处理的{assignment.tried_text or describe_all(assignment.tried)}"
            f"也都找不到（{also}），"
            "申请会保留到通讯录补充后再送达")


class _Findings:
    def __init__(self) -> None:
        self.flows: dict[tuple[str, str], list[str]] = {}
        self.students: dict[tuple[str, str, str], list[str]] = {}

    def add(self, definition: FlowDefinition, assignment: Assignment) -> None:
        assert assignment.gap is not None
        gap, consequence = assignment.gap, _consequence(assignment)
        key = (consequence, assignment.via_fallback)
        if gap.kind == "no_counselor":
            # one line per flow for all students without a counselor, not one per student
            self.students.setdefault((definition.name, *key), []).append(gap.detail or gap.subject)
            return
        if gap.kind == "own_head" and gap.cause is not None:
            gap = gap.cause   # the same thing to fix as for everyone else's requests
        names = self.flows.setdefault((gap.text(), *key), [])
        if definition.name not in names:
            names.append(definition.name)

    def result(self) -> list[Finding]:
        effects: dict[str, list[Effect]] = {}
        for (gap, consequence, covered), flows in self.flows.items():
            effects.setdefault(gap, []).append(Effect(tuple(flows), consequence, covered))
        for (flow, consequence, covered), students in self.students.items():
            shown = "、".join(students[:3]) + ("等" if len(students) > 3 else "")
            gap = f"{len(students)} 名学生没有登记辅导员（{shown}）"
            effects.setdefault(gap, []).append(Effect((flow,), consequence, covered))
        # what happens to most applications first: someone stands in
        return [Finding(gap, tuple(sorted(found, key=lambda e: not e.covered)))
                for gap, found in effects.items()]


async def check_directory(definitions: Iterable[FlowDefinition],
                          directory: DirectorySnapshot) -> DirectoryReport:
    report = DirectoryReport(departments=len(directory.departments_by_id),
                             people=len(directory.people_by_id),
                             file_problems=list(directory.problems))
    findings = _Findings()
    everyone = directory.everyone()
    held = {role for person in everyone for role in person.roles}
    for definition in notice_order(definitions):
        stages = []
        sampled = samples(definition, directory)
        for stage in definition.stages:
            applicants = [p for p in everyone if _audience(definition, p)] \
                if stage.approver.form == "counselor" else sampled
            routes = []
            for person in applicants:
                if not _applies(stage, person):
                    continue
                assignment = await assign(definition, stage, person, directory)
                department = directory.departments_by_id.get(person.department or "")
                routes.append(Route(
                    department=department.name if department else NO_DEPARTMENT,
                    role=_audience(definition, person) or "", applicant=person.name,
                    approvers=tuple(p.name for p in assignment.people),
                    head=department is not None and department.head == person.id,
                    gap=assignment.gap.text() if assignment.gap else "",
                    fallback=(assignment.tried_text if assignment.nobody else
                              assignment.fallback_text if assignment.fallback else "")))
                if assignment.gap is not None:
                    findings.add(definition, assignment)
            stages.append(StageReport(stage.id, stage.name, str(stage.approver),
                                      await describe_for(stage.approver, directory),
                                      tuple(routes)))
        applicants = sum(1 for p in everyone if _audience(definition, p))
        unit = directory.named(definition.unit)
        report.flows.append(FlowReport(definition.id, definition.name,
                                       unit.name if unit else definition.unit,
                                       definition.status, definition.online, tuple(stages),
                                       applicants))
        missing = [role for role in definition.audience if role != ANYONE and role not in held]
        if definition.online and missing and not applicants:
            labels = "、".join(role_label(r) for r in missing)
            report.notes.append(f"没有人担任 {labels}：{definition.name} 暂时无人可以在线申请"
                                "（办事指南照常回答）")
        for reviewer in definition.reviewers:
            if reviewer not in directory.people_by_id:
                report.notes.append(f"{definition.name}：评审人 {reviewer} 不在通讯录中")
    report.findings = findings.result()
    report.findings += _unreferenced_people(directory, report.findings)
    report.file_problems += _unknown_roles(definitions, directory)
    return report


def _unreferenced_people(directory: DirectorySnapshot,
                         found: list[Finding]) -> list[Finding]:
    """A head or leader who is not in the directory is something to fix even while no sample
    application meets it (say, a department without members yet)."""
    known = {finding.gap for finding in found}
    more = []
    for department in directory.all_departments():
        for user_id, gap in ((department.head, Gap("unknown_head", department.name,
                                                    department.head or "")),
                             (department.leader, Gap("unknown_leader", department.name,
                                                     department.leader or ""))):
            if user_id and user_id not in directory.people_by_id and gap.text() not in known:
                more.append(Finding(gap.text(), (Effect((), "请改为通讯录中的用户 id，"
                                                            "否则经过它的环节无法派单"),)))
    return more


def _flow_roles(definitions: Iterable[FlowDefinition]) -> set[str]:
    """Every role a flow names: audiences, and stages, fallbacks and CC routed to a role."""
    roles: set[str] = set()
    for definition in definitions:
        roles.update(definition.audience)
        approvers = [stage.approver for stage in definition.stages]
        approvers += [definition.fallback] if definition.fallback else []
        approvers += [spec for rule in definition.cc for spec in rule.to]
        roles.update(a.argument for a in approvers if a.form == "role")
    return roles


def _unknown_roles(definitions: Iterable[FlowDefinition],
                   directory: DirectorySnapshot) -> list[str]:
    """Roles nobody could mean: not campusbot's and used by no flow — most likely a typo
    (`teahcer`) or a label written for a code (`教师`); either way the role does nothing."""
    used = _flow_roles(definitions) | set(ROLE_LABELS)
    holders: dict[str, list[str]] = {}
    for person in directory.everyone():
        for role in person.roles:
            if role not in used:
                holders.setdefault(role, []).append(person.name)
    by_word = {**{code: code for code in ROLE_LABELS},
               **{label: code for code, label in ROLE_LABELS.items()}}
    problems = []
    for role, names in sorted(holders.items()):
        who = "、".join(names[:3]) + ("等" if len(names) > 3 else "")
        close = difflib.get_close_matches(role, list(by_word), n=1, cutoff=0.7)
        hint = (f"是不是 {role_label(by_word[close[0]])}？" if close else
                "本校自设的岗位角色要在流程文件中用到（audience 或 role:代码）才起作用")
        problems.append(f"角色“{role}”（{who}）不是已知角色，也没有流程用到：{hint}")
    return problems
