"""Resolve a stage's approver spec to people in the directory."""

from __future__ import annotations

from flows.definition import Approver
from storage.directory import DepartmentInfo, Directory, PersonInfo


class ApproverNotFound(LookupError):
    """Nobody in the directory fits; the message says what is missing (Chinese)."""


async def effective_roles(person: PersonInfo, directory: Directory) -> tuple[str, ...]:
    """The person's roles plus those implied by the directory (head of their department)."""
    roles = list(person.roles)
    if person.department:
        department = await directory.department(person.department)
        if (department is not None and department.head == person.id
                and department.kind != "leadership" and "dept_head" not in roles):
            roles.append("dept_head")
        if department and department.kind == "leadership" and "school_leader" not in roles:
            roles.append("school_leader")
    return tuple(roles)


async def _department(directory: Directory, department_id: str | None,
                      what: str) -> DepartmentInfo:
    department = await directory.department(department_id) if department_id else None
    if department is None:
        raise ApproverNotFound(f"通讯录中找不到部门 {department_id or '（未设置）'}，"
                               f"无法确定{what}")
    return department


async def _head(directory: Directory, department_id: str | None, applicant: PersonInfo,
                what: str) -> list[PersonInfo]:
    department = await _department(directory, department_id, what)
    if department.head and department.head != applicant.id:
        head = await directory.person(department.head)
        if head:
            return [head]
    if department.head == applicant.id:
        # nobody approves their own request: it goes to the school leader in charge
        return await _leader(directory, department.id, applicant, what)
    raise ApproverNotFound(f"{department.name}未设置负责人，无法确定{what}")


async def _leader(directory: Directory, department_id: str | None, applicant: PersonInfo,
                  what: str) -> list[PersonInfo]:
    department = await _department(directory, department_id, what)
    if department.kind == "leadership":
        # a school leader's request goes to the head of the leadership group (校长), or for the
        # head himself to the group's own leader (书记)
        candidates = [department.head, department.leader]
    else:
        candidates = [department.leader]
        if department.leader in (None, applicant.id):
            for group in await directory.departments():
                if group.kind == "leadership":
                    candidates += [group.head, group.leader]
    for candidate in candidates:
        if candidate and candidate != applicant.id:
            leader = await directory.person(candidate)
            if leader:
                return [leader]
    raise ApproverNotFound(f"{department.name}未设置分管校领导，无法确定{what}")


async def resolve_approvers(approver: Approver, applicant: PersonInfo,
                            directory: Directory) -> list[PersonInfo]:
    """Everyone who may act on a stage with this approver spec, for this applicant."""
    match approver.form:
        case "department_head":
            return await _head(directory, applicant.department, applicant, "部门负责人")
        case "head_of":
            return await _head(directory, approver.argument, applicant, "部门负责人")
        case "leader_in_charge":
            return await _leader(directory, applicant.department, applicant, "分管校领导")
        case "leader_in_charge_of":
            return await _leader(directory, approver.argument, applicant, "分管校领导")
        case "counselor":
            counselor = await directory.person(applicant.counselor) if applicant.counselor else None
            if counselor is None:
                raise ApproverNotFound("通讯录中没有登记您的辅导员，请联系学院学生工作办公室")
            return [counselor]
        case "role":
            holders = await directory.with_role(approver.argument)
            if not holders:
                raise ApproverNotFound(f"通讯录中没有担任“{approver.argument}”岗位的人员")
            people = [p for p in holders if p.id != applicant.id]
            # the only holder is applying: their own department head decides instead
            return people or await _head(directory, applicant.department, applicant, "审批人")
        case "user":
            person = await directory.person(approver.argument)
            if person is None:
                raise ApproverNotFound(f"通讯录中找不到用户 {approver.argument}")
            return [person]
    raise ApproverNotFound(f"无法识别的审批人 {approver}")
