"""A flow definition: one school process, as declared in its TOML file.

The same definition is the service guide (steps, materials, contact, time limit), the chat dialog
(fields), the approval chain (stages, followups) and the flowchart. See docs/flow-format.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flows.conditions import Condition

KIND_LABELS = {
    "approval": "审批",
    "filing": "备案",
    "certificate": "证明",
    "report": "报送",
    "service": "服务",
    "booking": "预约",
    "platform": "平台",
}
STATUS_LABELS = {"draft": "草稿", "review": "评审中", "live": "已上线"}
FIELD_TYPES = (
    "text", "number", "date", "date_range", "datetime_range", "choice", "yesno", "phone",
    "email", "attachment", "plate",
)
STAGE_KINDS = {"approve": "审批", "handle": "办理", "acknowledge": "签收"}
APPROVAL_MODES = {"any": "或签", "all": "会签", "sequence": "依次", "single": "单人"}
CC_POINTS = {"submit": "提交时", "end": "办结时"}
FOLLOWUP_KINDS = {"report_back": "销假", "rate": "评价"}
APPROVER_FORMS = (
    "department_head", "head_of:<部门名称>", "leader_in_charge", "leader_in_charge_of:<部门名称>",
    "counselor", "role:<角色代码>", "user:<用户id>",
)


@dataclass(frozen=True)
class Contact:
    unit: str
    section: str
    post: str
    person: str
    address: str
    phone: str
    email: str
    sample: bool


@dataclass(frozen=True)
class Step:
    title: str
    actor: str
    unit: str
    materials: tuple[str, ...]
    notes: str
    time_limit_days: float | None
    #: the approval stage this step describes, so guide, chain and flowchart stay one thing
    stage: str = ""


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    type: str
    example: str
    required: bool = True
    hint: str = ""
    when: Condition | None = None
    options: tuple[str, ...] = ()
    multiple: bool = False
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    unit: str = ""
    min_length: int = 0
    max_length: int = 500
    pattern: str = ""
    pattern_hint: str = ""
    not_before: str = ""
    not_after: str = ""
    max_days: int | None = None
    check: str = ""
    #: shown to approvers only (not to CC recipients, not in lists): always, or when this holds
    sensitive: bool = False
    sensitive_when: Condition | None = None


@dataclass(frozen=True)
class Approver:
    """Who acts on a stage; `form` is one of APPROVER_FORMS without its argument."""

    form: str
    argument: str = ""

    def __str__(self) -> str:
        return f"{self.form}:{self.argument}" if self.argument else self.form


@dataclass(frozen=True)
class Stage:
    id: str
    name: str
    approver: Approver
    kind: str = "approve"
    mode: str = "any"
    when: Condition | None = None
    unit: str = ""
    time_limit_days: float | None = None
    card_facts: tuple[str, ...] = ()
    #: 转交 and 加签 may go to students too (never the applicant)
    transfer_to_students: bool = False


@dataclass(frozen=True)
class CarbonCopyRule:
    """抄送: who is told about an application (approver specs), at submission or at the end."""

    to: tuple[Approver, ...]
    at: str = "end"
    when: Condition | None = None


@dataclass(frozen=True)
class Followup:
    id: str
    kind: str
    name: str
    start_field: str = ""
    days_field: str = ""
    range_field: str = ""


@dataclass(frozen=True)
class Platform:
    url: str
    login: str
    can_do: tuple[str, ...]


@dataclass(frozen=True)
class Booking:
    resource_field: str
    date_field: str
    slot_field: str


@dataclass(frozen=True)
class Outcomes:
    submitted: str = ""
    completed: str = ""
    rejected: str = ""


@dataclass(frozen=True)
class FlowDefinition:
    id: str
    name: str
    unit: str
    kind: str
    status: str
    version: int
    summary: str
    audience: tuple[str, ...]
    aliases: tuple[str, ...]
    keywords: tuple[str, ...]
    reviewers: tuple[str, ...]
    time_limit_days: float
    contact: Contact
    steps: tuple[Step, ...]
    fields: tuple[Field, ...] = ()
    stages: tuple[Stage, ...] = ()
    followups: tuple[Followup, ...] = ()
    checks: tuple[str, ...] = ()
    platform: Platform | None = None
    booking: Booking | None = None
    outcomes: Outcomes = field(default_factory=Outcomes)
    source: Path | None = None
    cc: tuple[CarbonCopyRule, ...] = ()
    #: who gets a stage whose approver the directory cannot give (default: the unit's head)
    fallback: Approver | None = None
    #: identifies the definition by content (see loader.document_digest)
    digest: str = ""
    #: the parsed document it was built from, kept for applications that started with it
    document_json: str = field(default="", repr=False, compare=False)

    @property
    def online(self) -> bool:
        """Can be applied for in chat (platform entries only point elsewhere)."""
        return self.kind != "platform"

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    def field_by_key(self, key: str) -> Field:
        for candidate in self.fields:
            if candidate.key == key:
                return candidate
        raise KeyError(key)

    def stage_by_id(self, stage_id: str) -> Stage:
        for candidate in self.stages:
            if candidate.id == stage_id:
                return candidate
        raise KeyError(stage_id)
