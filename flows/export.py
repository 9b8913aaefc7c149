"""What the notice asks each unit to hand in, produced from the flow files: the statistics table
(附件1 业务流程梳理统计表) as xlsx, the same data as json, and a guide book as Markdown."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from flows.catalog import notice_order
from flows.definition import APPROVAL_MODES, STATUS_LABELS, FlowDefinition, Stage, Step
from flows.guide import AUDIENCE_LABELS, audience_text, days_text
from flows.render import approver_text, condition_text, stage_steps, text_width

FORMATS = ("json", "xlsx", "md")
SHEET_TITLE = "业务流程梳理统计表"
BOOK_TITLE = "网上办事大厅办事指南"
SAMPLE_REMARK = "联系人、电话、地址、邮箱为示例数据，待学校填写"
FOLLOWUP_WORDS = {
    "report_back": "假期结束时提醒申请人，申请人回复“销假”后办结",
    "rate": "办结后请申请人为服务评价（1–5 分）",
}
STAGE_VERBS = {"approve": "审批", "handle": "办理", "acknowledge": "签收"}


def _number(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


# ---- the approval chain in words -------------------------------------------------------------

def _actors(definition: FlowDefinition) -> dict[str, str]:
    """Stage id → the actor of the guide step it is, for naming functional roles."""
    return {stage_id: definition.steps[index].actor
            for stage_id, index in stage_steps(definition).items()}


def stage_text(definition: FlowDefinition, stage: Stage, actor: str = "") -> str:
    """单位负责人审核：申请人所在单位负责人审批（仅当…；1 个工作日）"""
    who = approver_text(definition, stage, actor)
    verb = STAGE_VERBS.get(stage.kind, "审批")
    mode = f"，{APPROVAL_MODES[stage.mode]}" if stage.mode == "all" else ""
    extras = []
    if stage.when is not None:
        extras.append(f"仅当{condition_text(definition, stage.when)}时")
    if stage.time_limit_days:
        extras.append(f"{days_text(stage.time_limit_days)} 个工作日")
    tail = f"（{'；'.join(extras)}）" if extras else ""
    return f"{stage.name}：{who}{verb}{mode}{tail}"


def chain_lines(definition: FlowDefinition) -> list[str]:
    """The approval chain after submission, one line per stage, then what follows it."""
    actors = _actors(definition)
    lines = [stage_text(definition, s, actors.get(s.id, "")) for s in definition.stages]
    lines += [f"{f.name}：{FOLLOWUP_WORDS.get(f.kind, '')}" for f in definition.followups]
    return lines


# ---- json ------------------------------------------------------------------------------------

def _step_record(number: int, step: Step) -> dict[str, Any]:
    return {"number": number, "title": step.title, "actor": step.actor, "unit": step.unit,
            "materials": list(step.materials), "notes": step.notes,
            "time_limit_days": _number(step.time_limit_days)}


def _stage_record(definition: FlowDefinition, stage: Stage, actor: str) -> dict[str, Any]:
    return {
        "id": stage.id, "name": stage.name, "kind": stage.kind,
        "kind_label": STAGE_VERBS.get(stage.kind, stage.kind), "approver": str(stage.approver),
        "approver_text": approver_text(definition, stage, actor), "mode": stage.mode,
        "mode_label": APPROVAL_MODES.get(stage.mode, stage.mode), "unit": stage.unit,
        "condition": stage.when.source if stage.when else None,
        "condition_text": condition_text(definition, stage.when) if stage.when else None,
        "time_limit_days": _number(stage.time_limit_days),
    }


def process_record(definition: FlowDefinition) -> dict[str, Any]:
    """One process as plain data: every guide element plus the chain and the platform."""
    contact = definition.contact
    actors = _actors(definition)
    platform = definition.platform
    return {
        "id": definition.id, "name": definition.name, "unit": definition.unit,
        "kind": definition.kind, "kind_label": definition.kind_label,
        "status": definition.status, "status_label": STATUS_LABELS[definition.status],
        "version": definition.version, "summary": definition.summary,
        "audience": list(definition.audience),
        "audience_labels": [AUDIENCE_LABELS.get(a, a) for a in definition.audience],
        "aliases": list(definition.aliases),
        "time_limit_days": _number(definition.time_limit_days), "online": definition.online,
        "steps": [_step_record(n, step) for n, step in enumerate(definition.steps, 1)],
        "stages": [_stage_record(definition, s, actors.get(s.id, "")) for s in definition.stages],
        "followups": [{"kind": f.kind, "name": f.name} for f in definition.followups],
        "fields": [{"key": f.key, "label": f.label, "type": f.type, "required": f.required}
                   for f in definition.fields],
        "platform": {"url": platform.url, "login": platform.login,
                     "can_do": list(platform.can_do)} if platform else None,
        "contact": {"unit": contact.unit or definition.unit, "section": contact.section,
                    "post": contact.post, "person": contact.person, "address": contact.address,
                    "phone": contact.phone, "email": contact.email},
        "sample_data": contact.sample,
        "source": definition.source.name if definition.source else None,
    }


def to_json(definitions: Iterable[FlowDefinition]) -> str:
    records = [process_record(d) for d in notice_order(definitions)]
    return json.dumps(records, ensure_ascii=False, indent=2) + "\n"


# ---- xlsx ------------------------------------------------------------------------------------

# (header, width in Excel character units: a CJK character needs about two)
COLUMNS = (
    ("序号", 6), ("所属单位", 20), ("流程名称", 26), ("事项类型", 9), ("办理对象", 16),
    ("办理流程（各环节及所需材料）", 60), ("办结时限（工作日）", 11), ("负责科室", 16),
    ("负责岗位", 16), ("负责人", 18), ("办公地址", 22), ("联系电话", 18), ("邮箱", 28),
    ("是否在线办理", 12), ("状态", 9), ("备注", 40),
)
_LINE_HEIGHT = 15.0  # points per wrapped line at the default 11 pt font
_MAX_ROW_HEIGHT = 409.0  # Excel's limit
_THIN = Side(style="thin", color="A6A6A6")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def steps_cell(definition: FlowDefinition) -> str:
    lines = []
    for number, step in enumerate(definition.steps, 1):
        who = f"（{step.actor}）" if step.actor else ""
        limit = f"，{days_text(step.time_limit_days)} 个工作日" if step.time_limit_days else ""
        lines.append(f"{number}. {step.title}{who}{limit}")
        if step.materials:
            lines.append("   材料：" + "；".join(step.materials))
    return "\n".join(lines)


def remark_cell(definition: FlowDefinition) -> str:
    parts = []
    if definition.platform is not None:
        platform = definition.platform
        parts += [f"平台网址：{platform.url}", f"登录方式：{platform.login}",
                  "可办理：" + "；".join(platform.can_do)]
    if definition.contact.sample:
        parts.append(SAMPLE_REMARK)
    return "\n".join(parts)


def table_row(number: int, definition: FlowDefinition) -> list[str | int | float | None]:
    """One row of the statistics table, in COLUMNS order."""
    contact = definition.contact
    return [
        number, definition.unit, definition.name, definition.kind_label,
        audience_text(definition), steps_cell(definition),
        _number(definition.time_limit_days), contact.section, contact.post, contact.person,
        contact.address, contact.phone, contact.email,
        "是（在聊天中申请）" if definition.online else "是（在本平台办理）",
        STATUS_LABELS[definition.status], remark_cell(definition),
    ]


def _set(sheet: Worksheet, row: int, column: int, value: str | int | float | None) -> None:
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = sheet.cell(row=row, column=column, value=value)
    if cell.data_type == "f":
        cell.data_type = "s"  # text that starts with "=" is data, never a formula


def _row_height(values: list[str | int | float | None]) -> float:
    lines = 1
    for value, (_, width) in zip(values, COLUMNS, strict=True):
        text = "" if value is None else str(value)
        wrapped = sum(max(1, math.ceil(text_width(line) / width)) for line in text.split("\n"))
        lines = max(lines, wrapped)
    return min(_MAX_ROW_HEIGHT, lines * _LINE_HEIGHT + 4)


def _style_header(sheet: Worksheet) -> None:
    fill = PatternFill("solid", fgColor="DDEBF7")
    for column, (header, width) in enumerate(COLUMNS, 1):
        cell = sheet.cell(row=1, column=column, value=header)
        cell.font = Font(bold=True)
        cell.fill = fill
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.row_dimensions[1].height = 32
    sheet.freeze_panes = "D2"  # header row and 序号/所属单位/流程名称 stay in view


def _page_setup(sheet: Worksheet, rows: int) -> None:
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{rows + 1}"
    sheet.print_title_rows = "1:1"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


def workbook(definitions: Iterable[FlowDefinition]) -> Workbook:
    """The 业务流程梳理统计表: a header in row 1, then exactly one row per process."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET_TITLE
    book.properties.title = SHEET_TITLE
    book.properties.creator = "campusbot"
    _style_header(sheet)
    ordered = notice_order(definitions)
    body = Alignment(vertical="top", wrap_text=True)
    centered = Alignment(horizontal="center", vertical="top", wrap_text=True)
    short = {1, 4, 7, 14, 15}  # 序号, 事项类型, 办结时限, 是否在线办理, 状态
    for number, definition in enumerate(ordered, 1):
        values = table_row(number, definition)
        for column, value in enumerate(values, 1):
            _set(sheet, number + 1, column, value)
            cell = sheet.cell(row=number + 1, column=column)
            cell.alignment = centered if column in short else body
            cell.border = _BORDER
        sheet.row_dimensions[number + 1].height = _row_height(values)
    _page_setup(sheet, len(ordered))
    return book


def to_xlsx(definitions: Iterable[FlowDefinition]) -> bytes:
    buffer = io.BytesIO()
    workbook(definitions).save(buffer)
    return buffer.getvalue()


# ---- markdown --------------------------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>")


def _facts(definition: FlowDefinition) -> list[str]:
    how = "在聊天中申请（回复“办理”）" if definition.online else "在该平台在线办理"
    facts = [("事项类型", definition.kind_label), ("办理对象", audience_text(definition)),
             ("办结时限", f"{days_text(definition.time_limit_days)} 个工作日"),
             ("办理方式", how), ("状态", STATUS_LABELS[definition.status])]
    if definition.aliases:
        facts.append(("常用说法", "、".join(definition.aliases)))
    return ["| 项目 | 内容 |", "|---|---|"] + [f"| {k} | {_cell(v)} |" for k, v in facts]


def _steps_md(definition: FlowDefinition) -> list[str]:
    lines = ["**办理流程**", ""]
    for number, step in enumerate(definition.steps, 1):
        facts = [step.actor] if step.actor else []
        if step.time_limit_days:
            facts.append(f"{days_text(step.time_limit_days)} 个工作日")
        lines.append(f"{number}. **{step.title}**" + (f"（{'，'.join(facts)}）" if facts else ""))
        materials = "；".join(step.materials) if step.materials else "无"
        lines.append(f"   - 材料：{materials}")
        if step.notes:
            lines.append(f"   - 说明：{step.notes}")
    return lines


def _chain_md(definition: FlowDefinition) -> list[str]:
    if not definition.stages:
        return []
    refusable = any(s.kind in ("approve", "handle") for s in definition.stages)
    intro = "提交后依次经过以下环节" + ("，驳回或退回时回到申请人修改后重新提交：" if refusable
                                       else "：")
    return ["**审批与办理环节**", "", intro, "",
            *[f"{n}. {line}" for n, line in enumerate(chain_lines(definition), 1)]]


def _platform_md(definition: FlowDefinition) -> list[str]:
    if definition.platform is None:
        return []
    platform = definition.platform
    return ["**平台使用**", "", f"- 网址：<{platform.url}>", f"- 登录：{platform.login}",
            "- 可办理：", *[f"  - {item}" for item in platform.can_do]]


def _contact_md(definition: FlowDefinition) -> list[str]:
    contact = definition.contact
    values = [contact.unit or definition.unit, contact.section, contact.post, contact.person,
              contact.address, contact.phone, contact.email]
    lines = ["**联系方式**", "",
             "| 负责单位 | 科室 | 岗位 | 负责人 | 办公地址 | 电话 | 邮箱 |",
             "|---|---|---|---|---|---|---|",
             "| " + " | ".join(_cell(v) for v in values) + " |"]
    if contact.sample:
        lines += ["", f"> {SAMPLE_REMARK}。"]
    return lines


def process_markdown(definition: FlowDefinition) -> str:
    sections = [[f"### {definition.name}", "", definition.summary], _facts(definition),
                _platform_md(definition), _steps_md(definition), _chain_md(definition),
                _contact_md(definition)]
    return "\n\n".join("\n".join(section) for section in sections if section)


def to_markdown(definitions: Iterable[FlowDefinition]) -> str:
    ordered = notice_order(definitions)
    units = list(dict.fromkeys(d.unit for d in ordered))
    parts = [f"# {BOOK_TITLE}",
             f"共 {len(units)} 个单位、{len(ordered)} 个事项，按学校通知的单位顺序排列。"]
    for unit in units:
        mine = [d for d in ordered if d.unit == unit]
        parts.append(f"## {unit}\n\n" + "、".join(d.name for d in mine))
        parts += [process_markdown(d) for d in mine]
    return "\n\n".join(parts) + "\n"


# ---- all formats -----------------------------------------------------------------------------

def export_bytes(definitions: Iterable[FlowDefinition], fmt: str) -> bytes:
    if fmt == "xlsx":
        return to_xlsx(definitions)
    if fmt == "json":
        return to_json(definitions).encode("utf-8")
    if fmt == "md":
        return to_markdown(definitions).encode("utf-8")
    raise ValueError(f"不支持的导出格式 {fmt!r}（可用：{', '.join(FORMATS)}）")
