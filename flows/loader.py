"""Read flow files (TOML) into FlowDefinitions, reporting every problem with file and field."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from flows.conditions import Condition, ConditionError, parse_condition
from flows.definition import (
    APPROVAL_MODES,
    APPROVER_FORMS,
    CC_POINTS,
    FIELD_TYPES,
    FOLLOWUP_KINDS,
    KIND_LABELS,
    STAGE_KINDS,
    STATUS_LABELS,
    Approver,
    Booking,
    CarbonCopyRule,
    Contact,
    Field,
    FlowDefinition,
    Followup,
    Outcomes,
    Platform,
    Stage,
    Step,
)
from flows.overrides import SchoolOverrides, apply_override, unknown_processes
from flows.problems import FlowFileError, Problem

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
_APPROVER_WITH_ARGUMENT = ("head_of", "leader_in_charge_of", "role", "user")
_APPROVER_PLAIN = ("department_head", "leader_in_charge", "counselor")

_FLOW_KEYS = {"id", "name", "unit", "kind", "status", "version", "summary", "audience", "aliases",
              "keywords", "reviewers", "time_limit_days", "checks", "fallback"}
_CONTACT_KEYS = {"unit", "section", "post", "person", "address", "phone", "email", "sample"}
_STEP_KEYS = {"title", "stage", "actor", "unit", "materials", "notes", "time_limit_days"}
_FIELD_KEYS = {"key", "label", "type", "example", "required", "hint", "when", "options",
               "multiple", "min", "max", "integer", "unit", "min_length", "max_length", "pattern",
               "pattern_hint", "not_before", "not_after", "max_days", "check", "sensitive"}
_STAGE_KEYS = {"id", "name", "approver", "kind", "mode", "when", "unit", "time_limit_days",
               "card_facts", "transfer_to_students"}
_CC_KEYS = {"to", "at", "when"}
_FOLLOWUP_KEYS = {"id", "kind", "name", "start_field", "days_field", "range_field"}
_PLATFORM_KEYS = {"url", "login", "can_do"}
_BOOKING_KEYS = {"resource_field", "date_field", "slot_field"}
_OUTCOME_KEYS = {"submitted", "completed", "rejected"}
_TOP_KEYS = {"flow", "contact", "steps", "fields", "stages", "followups", "platform", "booking",
             "outcomes", "cc"}
_RELATIVE_DAY_BOUNDS = ("", "today", "tomorrow", "yesterday")


class _Reader:
    """Typed access to one table of a TOML document, recording problems instead of raising."""

    def __init__(self, problems: list[Problem], file: Path, where: str,
                 table: dict[str, Any], allowed: set[str]) -> None:
        self.problems, self.file, self.where, self.table = problems, file, where, table
        for key in table:
            if key not in allowed:
                self.problem(key, f"未知的键（可用：{', '.join(sorted(allowed))}）")

    def problem(self, key: str, message: str) -> None:
        where = f"{self.where}.{key}" if key else self.where
        self.problems.append(Problem(self.file, where, message))

    def text(self, key: str, *, required: bool = True, default: str = "",
             element: bool = False) -> str:
        value = self.table.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                what = "缺少通知要求的要素" if element else "缺少必填项"
                self.problem(key, what)
            return default
        if not isinstance(value, str):
            self.problem(key, f"应为文本，实际是 {type(value).__name__}")
            return default
        return value.strip()

    def identifier(self, key: str, *, required: bool = True) -> str:
        value = self.text(key, required=required)
        if value and not _IDENTIFIER.fullmatch(value):
            self.problem(key, "只能用小写字母、数字和下划线，以字母开头")
        return value

    def number(self, key: str, *, required: bool = False, element: bool = False) -> float | None:
        value = self.table.get(key)
        if value is None:
            if required:
                self.problem(key, "缺少通知要求的要素" if element else "缺少必填项")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(key, f"应为数字，实际是 {type(value).__name__}")
            return None
        if value < 0:
            self.problem(key, "不能为负数")
            return None
        return value

    def integer(self, key: str, default: int) -> int:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, "应为整数")
            return default
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            self.problem(key, "应为 true 或 false")
            return default
        return value

    def texts(self, key: str, *, required: bool = False, element: bool = False) -> tuple[str, ...]:
        value = self.table.get(key)
        if value is None:
            if required:
                self.problem(key, "缺少通知要求的要素" if element else "缺少必填项")
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(key, "应为文本列表，例如 [\"甲\", \"乙\"]")
            return ()
        return tuple(v.strip() for v in value if v.strip())

    def condition(self, key: str) -> Condition | None:
        source = self.text(key, required=False)
        if not source:
            return None
        try:
            return parse_condition(source)
        except ConditionError as exc:
            self.problem(key, str(exc))
            return None

    def tables(self, key: str) -> list[dict[str, Any]]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem(key, f"应为表格数组 [[{key}]]")
            return []
        return value

    def sub(self, key: str, allowed: set[str], *, required: bool = False) -> _Reader | None:
        value = self.table.get(key)
        if value is None:
            if required:
                self.problem(key, "缺少必填的表")
            return None
        if not isinstance(value, dict):
            self.problem(key, f"应为表 [{key}]")
            return None
        return _Reader(self.problems, self.file, key, value, allowed)


def parse_approver(text: str) -> Approver | None:
    """'head_of:人事处' → Approver('head_of', '人事处'); None when the form is unknown."""
    form, _, argument = text.partition(":")
    form, argument = form.strip(), argument.strip()
    if form in _APPROVER_PLAIN and not argument:
        return Approver(form)
    if form in _APPROVER_WITH_ARGUMENT and argument:
        if form == "role" and not _IDENTIFIER.fullmatch(argument):
            return None
        return Approver(form, argument)
    return None


def _approver(reader: _Reader, key: str, *, required: bool) -> Approver | None:
    text = reader.text(key, required=required)
    approver = parse_approver(text) if text else None
    if text and approver is None:
        reader.problem(key, f"无法识别的审批人 {text!r}（可用：{', '.join(APPROVER_FORMS)}）")
    return approver


def document_digest(document: dict[str, Any]) -> str:
    """Identifies a flow by its content: the same parsed document, the same digest, whatever
    the comments, layout or `version` number say."""
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _read_field(reader: _Reader, index: int, raw: dict[str, Any]) -> Field | None:
    item = _Reader(reader.problems, reader.file, f"fields[{index}]", raw, _FIELD_KEYS)
    key = item.identifier("key")
    field_type = item.text("type")
    if field_type and field_type not in FIELD_TYPES:
        item.problem("type", f"未知的字段类型 {field_type!r}（可用：{', '.join(FIELD_TYPES)}）")
    options = item.texts("options", required=field_type == "choice")
    pattern = item.text("pattern", required=False)
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            item.problem("pattern", f"正则表达式无效：{exc}")
    for bound in ("not_before", "not_after"):
        value = item.text(bound, required=False)
        if value not in _RELATIVE_DAY_BOUNDS:
            item.problem(bound, f"应为 {', '.join(b for b in _RELATIVE_DAY_BOUNDS if b)} 之一")
    max_days = item.number("max_days")
    sensitive, sensitive_when = _read_sensitive(item)
    result = Field(
        key=key, label=item.text("label"), type=field_type, example=item.text("example"),
        required=item.flag("required", True), hint=item.text("hint", required=False),
        when=item.condition("when"), options=options, multiple=item.flag("multiple", False),
        minimum=item.number("min"), maximum=item.number("max"),
        integer=item.flag("integer", False), unit=item.text("unit", required=False),
        min_length=item.integer("min_length", 0), max_length=item.integer("max_length", 500),
        pattern=pattern, pattern_hint=item.text("pattern_hint", required=bool(pattern)),
        not_before=item.text("not_before", required=False),
        not_after=item.text("not_after", required=False),
        max_days=int(max_days) if max_days is not None else None,
        check=item.text("check", required=False),
        sensitive=sensitive, sensitive_when=sensitive_when,
    )
    return result if key and field_type in FIELD_TYPES else None


def _read_sensitive(item: _Reader) -> tuple[bool, Condition | None]:
    """`sensitive = true`, or a condition such as `sensitive = "leave_type == '病假'"`."""
    value = item.table.get("sensitive")
    if value is None or isinstance(value, bool):
        return bool(value), None
    if isinstance(value, str):
        condition = item.condition("sensitive")
        return condition is not None, condition
    item.problem("sensitive", "应为 true/false，或一个条件")
    return False, None


def _read_cc(reader: _Reader, index: int, raw: dict[str, Any]) -> CarbonCopyRule | None:
    item = _Reader(reader.problems, reader.file, f"cc[{index}]", raw, _CC_KEYS)
    value = item.table.get("to")
    specs = [value] if isinstance(value, str) else value
    if not isinstance(specs, list) or not specs or not all(isinstance(v, str) for v in specs):
        item.problem("to", "应为审批人写法或其列表，例如 \"role:hr_clerk\" 或 [\"user:hr_chen\"]")
        return None
    approvers = []
    for spec in specs:
        approver = parse_approver(spec)
        if approver is None:
            item.problem("to", f"无法识别的抄送对象 {spec!r}（可用：{', '.join(APPROVER_FORMS)}）")
        else:
            approvers.append(approver)
    at = item.text("at", required=False, default="end")
    if at not in CC_POINTS:
        item.problem("at", f"应为 {', '.join(CC_POINTS)} 之一")
    if not approvers or at not in CC_POINTS:
        return None
    return CarbonCopyRule(to=tuple(approvers), at=at, when=item.condition("when"))


def _read_stage(reader: _Reader, index: int, raw: dict[str, Any]) -> Stage | None:
    item = _Reader(reader.problems, reader.file, f"stages[{index}]", raw, _STAGE_KEYS)
    stage_id = item.identifier("id")
    approver = _approver(item, "approver", required=True)
    kind = item.text("kind", required=False, default="approve")
    if kind not in STAGE_KINDS:
        item.problem("kind", f"应为 {', '.join(STAGE_KINDS)} 之一")
    mode = item.text("mode", required=False, default="any")
    if mode not in APPROVAL_MODES:
        item.problem("mode", f"应为 {', '.join(APPROVAL_MODES)} 之一")
    card_facts = item.texts("card_facts")
    if len(card_facts) > 6:
        item.problem("card_facts", "审批卡片最多显示 6 项")
    if not (stage_id and approver):
        return None
    return Stage(id=stage_id, name=item.text("name"), approver=approver, kind=kind, mode=mode,
                 when=item.condition("when"), unit=item.text("unit", required=False),
                 time_limit_days=item.number("time_limit_days"), card_facts=card_facts,
                 transfer_to_students=item.flag("transfer_to_students", False))


def _read_followup(reader: _Reader, index: int, raw: dict[str, Any]) -> Followup | None:
    item = _Reader(reader.problems, reader.file, f"followups[{index}]", raw, _FOLLOWUP_KEYS)
    kind = item.text("kind")
    if kind and kind not in FOLLOWUP_KINDS:
        item.problem("kind", f"应为 {', '.join(FOLLOWUP_KINDS)} 之一")
        return None
    followup = Followup(
        id=item.text("id", required=False, default=kind), kind=kind,
        name=item.text("name", required=False, default=FOLLOWUP_KINDS.get(kind, "")),
        start_field=item.text("start_field", required=False),
        days_field=item.text("days_field", required=False),
        range_field=item.text("range_field", required=False),
    )
    if kind == "report_back" and not (followup.range_field or (
            followup.start_field and followup.days_field)):
        item.problem("", "销假需要 range_field，或 start_field 加 days_field，用来算出假期结束日")
    return followup if kind else None


def parse_flow(path: Path, document: dict[str, Any],
               problems: list[Problem]) -> FlowDefinition | None:
    """Turn one parsed TOML document into a definition; problems go into `problems`."""
    top = _Reader(problems, path, "", document, _TOP_KEYS)
    flow = top.sub("flow", _FLOW_KEYS, required=True)
    if flow is None:
        return None
    flow_id = flow.identifier("id")
    if flow_id and flow_id != path.stem:
        flow.problem("id", f"应与文件名一致：{path.stem!r}")
    kind = flow.text("kind")
    if kind and kind not in KIND_LABELS:
        flow.problem("kind", f"应为 {', '.join(KIND_LABELS)} 之一")
    status = flow.text("status", required=False, default="draft")
    if status not in STATUS_LABELS:
        flow.problem("status", f"应为 {', '.join(STATUS_LABELS)} 之一")
    is_platform = kind == "platform"

    contact_reader = top.sub("contact", _CONTACT_KEYS)
    if contact_reader is None:
        top.problem("contact", "缺少通知要求的要素：负责单位、科室、岗位、负责人、地址、电话、邮箱")
        contact = Contact("", "", "", "", "", "", "", sample=False)
    else:
        contact = Contact(
            unit=contact_reader.text("unit", required=False),
            section=contact_reader.text("section", element=True),
            post=contact_reader.text("post", element=True),
            person=contact_reader.text("person", element=True),
            address=contact_reader.text("address", element=True),
            phone=contact_reader.text("phone", element=True),
            email=contact_reader.text("email", element=True),
            sample=contact_reader.flag("sample", False),
        )

    steps: list[Step] = []
    raw_steps = top.tables("steps")
    if not raw_steps:
        top.problem("steps", "缺少通知要求的要素：详细办理流程（每一步的材料和说明）")
    for index, raw in enumerate(raw_steps):
        item = _Reader(problems, path, f"steps[{index}]", raw, _STEP_KEYS)
        steps.append(Step(
            title=item.text("title", element=True), actor=item.text("actor", required=False),
            unit=item.text("unit", required=False), materials=item.texts("materials",
                                                                        required=True,
                                                                        element=True),
            notes=item.text("notes", element=True),
            time_limit_days=item.number("time_limit_days"),
            stage=item.text("stage", required=False),
        ))

    fields = [f for i, raw in enumerate(top.tables("fields")) if (f := _read_field(top, i, raw))]
    stages = [s for i, raw in enumerate(top.tables("stages")) if (s := _read_stage(top, i, raw))]
    followups = [followup for i, raw in enumerate(top.tables("followups"))
                 if (followup := _read_followup(top, i, raw))]
    cc = [rule for i, raw in enumerate(top.tables("cc")) if (rule := _read_cc(top, i, raw))]

    platform = None
    platform_reader = top.sub("platform", _PLATFORM_KEYS, required=is_platform)
    if platform_reader is not None:
        platform = Platform(url=platform_reader.text("url"), login=platform_reader.text("login"),
                            can_do=platform_reader.texts("can_do", required=True))
    if is_platform and (raw_steps and fields):
        top.problem("fields", "平台类事项不在聊天中办理，不应有 fields")
    if not is_platform and kind and not fields:
        top.problem("fields", "可在线办理的事项至少需要一个表单字段")

    booking = None
    booking_reader = top.sub("booking", _BOOKING_KEYS)
    if booking_reader is not None:
        booking = Booking(resource_field=booking_reader.text("resource_field"),
                          date_field=booking_reader.text("date_field"),
                          slot_field=booking_reader.text("slot_field"))

    outcomes_reader = top.sub("outcomes", _OUTCOME_KEYS)
    outcomes = Outcomes(
        submitted=outcomes_reader.text("submitted", required=False),
        completed=outcomes_reader.text("completed", required=False),
        rejected=outcomes_reader.text("rejected", required=False),
    ) if outcomes_reader else Outcomes()

    time_limit = flow.number("time_limit_days", required=True, element=True)
    audience = flow.texts("audience", required=True)
    fallback = _approver(flow, "fallback", required=False)
    return FlowDefinition(
        id=flow_id, name=flow.text("name"), unit=flow.text("unit"), kind=kind or "approval",
        status=status, version=flow.integer("version", 1), summary=flow.text("summary"),
        audience=audience, aliases=flow.texts("aliases"), keywords=flow.texts("keywords"),
        reviewers=flow.texts("reviewers"), time_limit_days=time_limit or 0,
        contact=contact if contact.unit else replace(contact,
                                                     unit=flow.text("unit", required=False)),
        steps=tuple(steps), fields=tuple(fields), stages=tuple(stages),
        followups=tuple(followups), checks=flow.texts("checks"), platform=platform,
        booking=booking, outcomes=outcomes, source=path, fallback=fallback,
        digest=document_digest(document), cc=tuple(cc),
    )


def read_flow_file(path: Path, problems: list[Problem],
                   overrides: SchoolOverrides | None = None) -> FlowDefinition | None:
    try:
        stat = path.stat()
    except OSError as exc:
        problems.append(Problem(path, "", f"无法读取：{exc}"))
        return None
    document, found = _read_document(path, stat.st_mtime_ns, stat.st_size)
    problems.extend(found)
    if document is None:
        return None
    name = document.get("flow", {}).get("name") if isinstance(document.get("flow"), dict) \
        else None
    patch = overrides.for_flow(name) if overrides and isinstance(name, str) else None
    if patch and overrides is not None and overrides.source is not None:
        document = apply_override(document, patch, overrides.source, problems)
    return definition_from_document(path, document, problems)


def definition_from_document(path: Path, document: dict[str, Any],
                             problems: list[Problem]) -> FlowDefinition | None:
    """Parse a document (read from a file, or kept in the database for older applications)."""
    return _parse(path, json.dumps(document, ensure_ascii=False, sort_keys=True, default=str),
                  problems)


def _parse(path: Path, document_json: str, problems: list[Problem]) -> FlowDefinition | None:
    definition, found = _parse_cached(path, document_json)
    problems.extend(found)
    return definition


@functools.lru_cache(maxsize=512)
def _parse_cached(path: Path, document_json: str) -> tuple[FlowDefinition | None,
                                                           tuple[Problem, ...]]:
    """Parse one document; memoised on its content, since reloads re-read every file and
    definitions are immutable."""
    problems: list[Problem] = []
    definition = parse_flow(path, json.loads(document_json), problems)
    if definition is not None:
        definition = replace(definition, document_json=document_json)
    return definition, tuple(problems)


@functools.lru_cache(maxsize=512)
def _read_document(path: Path, mtime_ns: int, size: int) -> tuple[dict[str, Any] | None,
                                                                  tuple[Problem, ...]]:
    """The file's TOML document; memoised on its modification time."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), ()
    except tomllib.TOMLDecodeError as exc:
        return None, (Problem(path, "", f"TOML 语法错误：{exc}"),)
    except (OSError, UnicodeDecodeError) as exc:
        return None, (Problem(path, "", f"无法读取：{exc}"),)


def flow_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.toml")) if path.is_dir() else [path]


def read_flow_files(path: Path, overrides: SchoolOverrides | None = None) -> tuple[
        list[FlowDefinition], list[Problem]]:
    """Read every flow file under `path` (a folder or one file), with the school's overrides,
    structure checks only."""
    problems: list[Problem] = list(overrides.problems) if overrides else []
    definitions = [d for f in flow_files(path) if (d := read_flow_file(f, problems, overrides))]
    if not definitions and not problems:
        problems.append(Problem(path, "", "没有找到流程文件（*.toml）"))
    if overrides is not None and overrides.by_name:
        problems += unknown_processes(overrides, {d.name for d in definitions})
    return definitions, problems


def load_flows(path: Path) -> list[FlowDefinition]:
    definitions, problems = read_flow_files(path)
    if problems:
        raise FlowFileError(problems)
    return definitions


__all__ = ["FlowFileError", "definition_from_document", "document_digest", "load_flows",
           "parse_approver", "read_flow_file", "read_flow_files"]
