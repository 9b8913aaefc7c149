"""The 业务流程图: valid SVG and PNG, one swimlane per unit, decisions worded in Chinese."""

from __future__ import annotations

import struct

import pytest
from defusedxml import ElementTree

from bot.flowcharts import Flowcharts
from flows.catalog import DEFAULT_CATALOG
from flows.definition import FlowDefinition
from flows.loader import read_flow_files
from flows.render import RenderUnavailable, lanes, render_bytes, stage_steps, wrap
from tests.conftest import needs_dot

CATALOG = sorted(read_flow_files(DEFAULT_CATALOG)[0], key=lambda d: d.id)
BY_NAME = {d.name: d for d in CATALOG}
SVG = "{http://www.w3.org/2000/svg}"


def flow(name: str) -> FlowDefinition:
    if name not in BY_NAME:
        pytest.skip(f"{name} is not in the catalog yet")
    return BY_NAME[name]


def svg_of(definition: FlowDefinition) -> ElementTree.Element:
    return ElementTree.fromstring(render_bytes(definition, "svg"))


def texts(root: ElementTree.Element) -> str:
    return "".join(node.text or "" for node in root.iter(f"{SVG}text"))


def cluster_labels(root: ElementTree.Element) -> list[str]:
    return ["".join(t.text or "" for t in group.iter(f"{SVG}text"))
            for group in root.iter(f"{SVG}g") if group.get("class") == "cluster"]


@needs_dot
def test_svg_is_valid_and_shows_the_name_and_every_step() -> None:
    definition = flow("教职工请销假审批")
    root = svg_of(definition)
    assert root.tag == f"{SVG}svg"
    words = texts(root)
    assert definition.name in words
    for step in definition.steps:
        assert step.title in words
        if step.time_limit_days:
            assert "时限" in words
    assert "请假天数 > 3 天？" in words
    assert "驳回" in words


@needs_dot
def test_png_is_a_real_picture() -> None:
    data = render_bytes(flow("货物及服务采购申请"), "png")
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 500
    assert height > 800
    assert len(data) > 50_000


@needs_dot
def test_procurement_has_one_swimlane_per_unit_in_order() -> None:
    definition = flow("货物及服务采购申请")
    root = svg_of(definition)
    assert cluster_labels(root) == ["申请单位", "资产管理处", "财务处", "审计处", "校领导"]
    words = texts(root)
    assert "预算金额 ≥ 200000 元？" in words
    assert "预算金额 ≥ 50000 元？" in words
    assert "申请人不是本单位负责人？" in words
    for material in definition.steps[0].materials:
        assert material.replace(" ", "") in words.replace(" ", "")


@needs_dot
@pytest.mark.parametrize("definition", CATALOG, ids=[d.id for d in CATALOG])
def test_every_flow_draws_one_lane_per_unit(definition: FlowDefinition) -> None:
    root = svg_of(definition)
    expected = lanes(definition)
    assert cluster_labels(root) == (expected if len(expected) > 1 else [])
    assert definition.name in texts(root)


@needs_dot
def test_platform_chart_shows_how_to_use_the_platform() -> None:
    platforms = [d for d in CATALOG if d.platform is not None]
    if not platforms:
        pytest.skip("no platform entries in the catalog yet")
    definition = platforms[0]
    assert definition.platform is not None
    words = texts(svg_of(definition))
    assert "打开平台并登录" in words
    assert definition.platform.url in words
    assert "可办理" in words


def test_every_stage_is_matched_to_its_guide_step() -> None:
    definition = flow("货物及服务采购申请")
    titles = {stage_id: definition.steps[index].title
              for stage_id, index in stage_steps(definition).items()}
    assert titles == {"dept_head": "申请单位负责人审核", "assets_review": "资产管理处审核",
                      "finance_review": "财务处经费审核", "audit_review": "审计处审核",
                      "leader": "分管校领导审批"}


def test_wrap_keeps_words_and_punctuation_together() -> None:
    lines = wrap("请先连接学校 VPN，再打开 https://pan.example.edu.cn。", 30)
    assert "VPN" in "".join(lines) and all(not line.startswith("，") for line in lines)
    assert any("https://pan.example.edu.cn" in line for line in lines)


def test_missing_graphviz_is_reported_in_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flows.render.shutil.which", lambda name: None)
    with pytest.raises(RenderUnavailable, match="未安装 Graphviz"):
        render_bytes(CATALOG[0], "png")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="不支持的流程图格式"):
        render_bytes(CATALOG[0], "pdf")


@needs_dot
async def test_bot_renders_off_the_loop_and_caches() -> None:
    charts = Flowcharts()
    first = await charts.image(CATALOG[0], "svg")
    assert first is not None and first.lstrip().startswith(b"<?xml")
    assert await charts.image(CATALOG[0], "svg") is first
