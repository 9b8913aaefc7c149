"""Every role campusbot knows, with its Chinese label (README, "Roles", lists the same).

- base roles say what someone is; the directory file or a WeCom tag gives them;
- implied roles follow from the directory and are never written by hand: every member who is
  not a student is `staff`, a department's head is `dept_head` (of an affiliated unit:
  `affiliated_head`), heads are `cadre`, members of the 校领导 department and the leaders named
  as 分管校领导 are `school_leader`;
- post roles name a job a flow routes to (IT运维, 维修, …); a WeCom tag named with the label or
  the code gives them, or the directory file. A school may use post roles of its own: any code
  of lowercase letters, digits and underscores, given by a tag `role:<code>` or by the file.
"""

from __future__ import annotations

BASE_ROLES = {
    "teacher": "教师",
    "student": "学生",
    "counselor": "辅导员",
    "cadre": "中层干部",
    "school_leader": "校领导",
    "affiliated_deputy": "附属单位副职",
    "club_leader": "学生社团负责人",
}
IMPLIED_ROLES = {
    "staff": "教职工",
    "dept_head": "部门主要负责人",
    "affiliated_head": "附属单位主要负责人",
}
POST_ROLES = {
    "gpo_clerk": "党政办秘书",
    "org_clerk": "组织干事",
    "hr_clerk": "考勤管理员",
    "publicity_clerk": "宣传干事",
    "psych_counselor": "心理咨询师",
    "student_affairs_clerk": "学工干事",
    "security_officer": "保卫干事",
    "academic_clerk": "教务员",
    "audit_clerk": "审计员",
    "procurement_clerk": "采购员",
    "finance_clerk": "财务预算员",
    "it_support": "IT运维",
    "room_admin": "教室管理员",
    "web_admin": "网站管理员",
    "repair_staff": "维修",
    "logistics_clerk": "后勤干事",
}
ROLE_LABELS = {**BASE_ROLES, **IMPLIED_ROLES, **POST_ROLES}
#: the audience word for "everyone in the directory"
ANYONE = "any"
ANYONE_LABEL = "全校师生"


def role_label(role: str) -> str:
    """中文名（code） for known roles, the code itself for a school's own."""
    label = ROLE_LABELS.get(role)
    return f"{label}（{role}）" if label else role


def role_of_label(name: str) -> str | None:
    """The role a label or code names (教师 → teacher, it_support → it_support)."""
    name = name.strip()
    for role, label in ROLE_LABELS.items():
        if name == label:
            return role
    return name if name in ROLE_LABELS else None
