"""Exports of the shipped catalog: the statistics table (xlsx), json and the guide book (md)."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from openpyxl import load_workbook

from flows.catalog import DEFAULT_CATALOG, NOTICE_UNITS, notice_order
from flows.conditions import parse_condition
from flows.definition import FlowDefinition
from flows.export import (
    COLUMNS,
    SHEET_TITLE,
    chain_lines,
    export_bytes,
    to_json,
    to_markdown,
    to_xlsx,
)
from flows.loader import read_flow_files
from flows.render import condition_text

# the files as they are now; other tests report files with problems
CATALOG = read_flow_files(DEFAULT_CATALOG)[0]
BY_NAME = {d.name: d for d in CATALOG}
REQUIRED_KEYS = {"name", "unit", "kind", "status", "time_limit_days", "audience", "online",
                 "steps", "contact"}
STEP_KEYS = {"title", "materials", "notes"}
CONTACT_KEYS = {"section", "post", "person", "address", "phone", "email"}


def flow(name: str) -> FlowDefinition:
    if name not in BY_NAME:
        pytest.skip(f"{name} is not in the catalog yet")
    return BY_NAME[name]


def test_catalog_is_not_empty() -> None:
    assert len(CATALOG) > 1


# ---- xlsx ------------------------------------------------------------------------------------

def test_xlsx_has_the_notice_headers_and_one_row_per_process() -> None:
    sheet = load_workbook(io.BytesIO(to_xlsx(CATALOG))).active
    assert sheet is not None
    headers = [cell.value for cell in sheet[1]]
    assert headers[:3] == ["序号", "所属单位", "流程名称"]
    assert headers == [header for header, _ in COLUMNS]
    for element in ("办理流程（各环节及所需材料）", "办结时限（工作日）", "负责科室", "负责岗位",
                    "负责人", "办公地址", "联系电话", "邮箱", "是否在线办理", "备注"):
        assert element in headers
    assert sheet.max_row == len(CATALOG) + 1
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in rows] == list(range(1, len(CATALOG) + 1))
    assert sorted(row[2] for row in rows) == sorted(d.name for d in CATALOG)
    assert all(row[1] and row[2] for row in rows)


def test_xlsx_is_a_clean_table_for_excel_and_wps() -> None:
    book = load_workbook(io.BytesIO(to_xlsx(CATALOG)))
    assert book.sheetnames == [SHEET_TITLE]
    assert len(SHEET_TITLE) <= 31
    sheet = book.active
    assert sheet is not None
    assert sheet.freeze_panes == "D2"
    assert all(cell.font.bold for cell in sheet[1])
    assert all(sheet.column_dimensions[c].width >= 6 for c in "ABCDEFGHIJKLMNOP")
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert all(cell.data_type in ("s", "n") for cell in cells if cell.value is not None)
    assert all(cell.alignment.wrap_text for cell in cells)


def test_xlsx_rows_follow_the_notice_unit_order_then_name() -> None:
    sheet = load_workbook(io.BytesIO(to_xlsx(CATALOG))).active
    assert sheet is not None
    keys = []
    for unit, name in sheet.iter_rows(min_row=2, min_col=2, max_col=3, values_only=True):
        rank = NOTICE_UNITS.index(unit) if unit in NOTICE_UNITS else len(NOTICE_UNITS)
        keys.append((rank, unit, name))
    assert keys == sorted(keys)


def test_xlsx_cells_hold_the_guide_elements() -> None:
    definition = flow("货物及服务采购申请")
    sheet = load_workbook(io.BytesIO(to_xlsx([definition]))).active
    assert sheet is not None
    row = dict(zip([c.value for c in sheet[1]], [c.value for c in sheet[2]], strict=True))
    assert row["所属单位"] == "资产管理处"
    assert row["办结时限（工作日）"] == definition.time_limit_days
    assert row["负责科室"] == definition.contact.section
    assert row["邮箱"] == definition.contact.email
    for step in definition.steps:
        assert step.title in row["办理流程（各环节及所需材料）"]
        for material in step.materials:
            assert material in row["办理流程（各环节及所需材料）"]
    assert "示例数据" in row["备注"]


def test_xlsx_never_turns_text_into_a_formula() -> None:
    tricky = replace(CATALOG[0], name="=HYPERLINK(\"http://x\")", summary="bell\x07")
    sheet = load_workbook(io.BytesIO(to_xlsx([tricky]))).active
    assert sheet is not None
    cell = sheet.cell(row=2, column=3)
    assert cell.value == tricky.name
    assert cell.data_type == "s"


def test_platform_rows_give_the_address() -> None:
    platforms = [d for d in CATALOG if d.platform is not None]
    if not platforms:
        pytest.skip("no platform entries in the catalog yet")
    sheet = load_workbook(io.BytesIO(to_xlsx(platforms))).active
    assert sheet is not None
    for definition, remark in zip(notice_order(platforms), [r[-1] for r in sheet.iter_rows(
            min_row=2, values_only=True)], strict=True):
        assert definition.platform is not None
        assert definition.platform.url in remark


# ---- json ------------------------------------------------------------------------------------

def test_json_has_one_entry_per_process_with_the_required_keys() -> None:
    records = json.loads(to_json(CATALOG))
    assert isinstance(records, list)
    assert len(records) == len(CATALOG)
    assert sorted(r["name"] for r in records) == sorted(d.name for d in CATALOG)
    for record in records:
        assert record.keys() >= REQUIRED_KEYS, record["name"]
        assert record["contact"].keys() >= CONTACT_KEYS
        assert record["steps"], record["name"]
        for step in record["steps"]:
            assert step.keys() >= STEP_KEYS
            assert isinstance(step["materials"], list)
        assert isinstance(record["online"], bool)
        assert isinstance(record["audience"], list)


def test_json_is_utf8_text_not_escapes() -> None:
    data = export_bytes(CATALOG, "json")
    assert CATALOG[0].name.encode("utf-8") in data
    assert b"\\u" not in data


def test_json_describes_the_chain_and_platforms() -> None:
    records = {r["name"]: r for r in json.loads(to_json(CATALOG))}
    procurement = records[flow("货物及服务采购申请").name]
    audit = next(s for s in procurement["stages"] if s["condition"] == "amount >= 200000")
    assert audit["condition_text"] == "预算金额 ≥ 200000 元"
    assert audit["approver_text"] == "审计处负责人"
    for record in records.values():
        assert (record["platform"] is not None) == (record["kind"] == "platform")


# ---- md --------------------------------------------------------------------------------------

def test_markdown_contains_every_process_under_its_unit() -> None:
    text = to_markdown(CATALOG)
    for definition in CATALOG:
        assert f"### {definition.name}\n" in text
        assert f"## {definition.unit}\n" in text
        assert text.index(f"## {definition.unit}\n") < text.index(f"### {definition.name}\n")
    assert export_bytes(CATALOG, "md").decode("utf-8") == text


def test_markdown_gives_every_guide_element() -> None:
    definition = flow("货物及服务采购申请")
    text = to_markdown([definition])
    for step in definition.steps:
        assert f"**{step.title}**" in text
    contact = definition.contact
    for value in (contact.section, contact.post, contact.person, contact.phone, contact.email):
        assert value in text
    assert "审计处审核：审计处负责人审批（仅当预算金额 ≥ 200000 元时；2 个工作日）" in text
    assert "7 个工作日" in text


def test_export_rejects_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="不支持的导出格式"):
        export_bytes(CATALOG, "csv")


# ---- words for conditions and the chain ------------------------------------------------------

@pytest.mark.parametrize(("source", "words"), [
    ("amount >= 200000", "预算金额 ≥ 200000 元"),
    ("not applicant_is_head", "申请人不是本单位负责人"),
    ("amount < 50000 or category == '服务'", "预算金额 < 50000 元或采购类别为“服务”"),
    ("category in ['货物', '服务']", "采购类别为“货物”、“服务”之一"),
    ("'student' in applicant_roles", "申请人是学生"),
    ("not (amount > 1 and quantity > 2)", "并非（预算金额 > 1 元且采购数量 > 2）"),
])
def test_conditions_are_worded_with_field_labels(source: str, words: str) -> None:
    definition = flow("货物及服务采购申请")
    assert condition_text(definition, parse_condition(source)) == words


def test_chain_in_words_follows_the_stages() -> None:
    definition = flow("教职工请销假审批")
    lines = chain_lines(definition)
    assert lines[0].startswith("部门负责人审批：申请人所在单位负责人审批")
    assert "仅当请假天数 > 3 天时" in lines[1]
    assert lines[-1].startswith("销假：")
