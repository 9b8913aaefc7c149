"""The 业务流程图 of a flow, drawn with Graphviz after the notice's attachments 2 and 3.

开始 → every step of the guide (title, actor, materials, time limit, notes) → 办结. When several
units take part, each unit gets a swimlane in the order it first appears. An approval stage that
runs only under a condition is drawn as a decision diamond worded in Chinese (`amount >= 200000`
→ 预算金额 ≥ 200000 元), and stages that can refuse send a 驳回/退回 edge back to the applicant.
Platform entries show how to open the platform, log in and what can be done there.

Also the words the guide book uses for the approval chain (`approver_text`, `condition_text`).
"""

from __future__ import annotations

import ast
import re
import shutil
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from html import escape

import graphviz

from flows.conditions import Condition
from flows.definition import STATUS_LABELS, Field, FlowDefinition, Stage, Step
from flows.guide import AUDIENCE_LABELS, audience_text, contact_lines, days_text
from storage.directory import ROLE_LABELS

FORMATS = ("svg", "png")
# Graphviz hands the list to Pango (PNG) and writes it as the CSS font-family (SVG), so the
# first installed family wins: Linux servers, then Windows and macOS viewers of the SVG.
FONT = ("Noto Sans CJK SC,Source Han Sans SC,WenQuanYi Micro Hei,Microsoft YaHei,"
        "PingFang SC,SimHei,sans-serif")
PNG_DPI = "110"
TITLE_WIDTH = 30  # columns: a CJK character takes two
TEXT_WIDTH = 34
DIAMOND_WIDTH = 22
_NO_LINE_START = set("，。、；：？！）》」』”’,.;:?!)")
_TOKEN = re.compile(r"“[^”]{1,10}”|[\w.@:/+\-%#?=&~]+|\s+|.", re.ASCII)
_MATCH_THRESHOLD = 0.5
_SAME_UNIT_BONUS = 0.3

_LANE_COLORS = ("#f4f8fd", "#fdf8f0", "#f3faf4", "#faf3f8", "#f6f6f6")
_COLORS = {"submit": "#dcebfa", "approve": "#fff4cc", "handle": "#dff3e0",
           "acknowledge": "#e8e4f7", "step": "#ffffff", "decision": "#fde2c8",
           "terminal": "#e6e6e6", "note": "#fffbe8"}
_BACK_COLOR = "#c0392b"
_BACK_WORDS = {"approve": "驳回", "handle": "退回"}


class RenderUnavailable(RuntimeError):
    """Graphviz (the `dot` program) is not installed on this machine, or it failed."""


# ---- words ------------------------------------------------------------------------------------

def _head_units(definition: FlowDefinition) -> dict[str, str]:
    """Department ids named by `head_of:` stages, with the lane the flow gives them (审计处)."""
    return {s.approver.argument: s.unit for s in definition.stages
            if s.approver.form == "head_of" and s.unit}


def approver_text(definition: FlowDefinition, stage: Stage, actor: str = "") -> str:
    """Who acts on a stage, in words: 申请人所在单位负责人, 资产管理处负责人, 分管校领导…"""
    approver = stage.approver
    argument = approver.argument
    match approver.form:
        case "department_head":
            return "申请人所在单位负责人"
        case "head_of":
            return f"{stage.unit or argument}负责人"
        case "leader_in_charge":
            return "申请人所在单位的分管校领导"
        case "leader_in_charge_of":
            unit = _head_units(definition).get(argument)
            return f"分管{unit}的校领导" if unit else "分管校领导"
        case "counselor":
            return "学生的辅导员"
        case "role":
            return actor or ROLE_LABELS.get(argument) or f"{stage.unit}经办人员"
    return actor or f"指定人员（{argument}）"


class _Words:
    """Turns a condition's expression into Chinese, naming fields by their labels."""

    def __init__(self, definition: FlowDefinition) -> None:
        self.definition = definition

    def field(self, name: str) -> Field | None:
        try:
            return self.definition.field_by_key(name)
        except KeyError:
            return None

    def operand(self, node: ast.expr) -> str:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return f"“{node.value}”"
            return days_text(node.value) if isinstance(node.value, int | float) else "空"
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.List | ast.Tuple):
            return "、".join(self.operand(item) for item in node.elts)
        if isinstance(node, ast.BinOp):
            symbol = {ast.Add: "+", ast.Sub: "−", ast.Mult: "×", ast.Div: "÷"}[type(node.op)]
            return f"{self.operand(node.left)} {symbol} {self.operand(node.right)}"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return f"−{self.operand(node.operand)}"
        raise ValueError(ast.dump(node))

    def name(self, name: str) -> str:
        special = {"applicant_roles": "申请人身份", "applicant_department": "申请人所在单位",
                   "applicant_is_head": "申请人是本单位负责人"}
        if name in special:
            return special[name]
        if (item := self.field(name)) is not None:
            return item.label
        if name.endswith("_days") and (item := self.field(name.removesuffix("_days"))):
            return f"{item.label}天数"
        return name

    def unit_of(self, node: ast.expr) -> str:
        if not isinstance(node, ast.Name):
            return ""
        if node.id.endswith("_days") and self.field(node.id) is None:
            return "天"
        item = self.field(node.id)
        return item.unit if item is not None else ""

    def predicate(self, node: ast.expr) -> str:
        if isinstance(node, ast.BoolOp):
            joiner = "且" if isinstance(node.op, ast.And) else "或"
            return joiner.join(self.nested(item) for item in node.values)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return self.negation(node.operand)
        if isinstance(node, ast.Name):
            return self.flag(node.id)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return self.compare(node.left, node.ops[0], node.comparators[0])
        raise ValueError(ast.dump(node))

    def nested(self, node: ast.expr) -> str:
        text = self.predicate(node)
        return f"（{text}）" if isinstance(node, ast.BoolOp) else text

    def flag(self, name: str, *, negated: bool = False) -> str:
        if name == "applicant_is_head":
            return "申请人不是本单位负责人" if negated else "申请人是本单位负责人"
        label = self.name(name)
        if label.startswith("是否"):
            return ("不" if negated else "") + label.removeprefix("是否")
        return f"{label}为“{'否' if negated else '是'}”"

    def negation(self, node: ast.expr) -> str:
        if isinstance(node, ast.Name):
            return self.flag(node.id, negated=True)
        return f"并非{self.nested(node)}"

    def compare(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> str:
        if isinstance(op, ast.In | ast.NotIn):
            return self.membership(left, right, negated=isinstance(op, ast.NotIn))
        symbol = {ast.Eq: "为", ast.NotEq: "不为", ast.Lt: "<", ast.LtE: "≤", ast.Gt: ">",
                  ast.GtE: "≥"}[type(op)]
        spaced = f" {symbol} " if symbol in "<≤>≥" else symbol
        unit = self.unit_of(left) if isinstance(right, ast.Constant) else ""
        return f"{self.operand(left)}{spaced}{self.operand(right)}{' ' + unit if unit else ''}"

    def membership(self, left: ast.expr, right: ast.expr, *, negated: bool) -> str:
        if isinstance(right, ast.List | ast.Tuple):
            word = "不是" if negated else "为"
            return f"{self.operand(left)}{word}{self.operand(right)}之一"
        if isinstance(right, ast.Name) and right.id == "applicant_roles" and isinstance(
                left, ast.Constant):
            role = AUDIENCE_LABELS.get(str(left.value), str(left.value))
            return f"申请人{'不' if negated else ''}是{role}"
        word = "不包括" if negated else "包括"
        return f"{self.operand(right)}{word}{self.operand(left)}"


def condition_text(definition: FlowDefinition, condition: Condition) -> str:
    """`amount >= 200000` → 预算金额 ≥ 200000 元; the source itself when it cannot be worded."""
    try:
        return _Words(definition).predicate(condition.tree)
    except (ValueError, KeyError):
        return condition.source


# ---- steps and stages ------------------------------------------------------------------------

def _similarity(stage: Stage, step: Step) -> float:
    score = SequenceMatcher(None, stage.name, step.title).ratio()
    return score + (_SAME_UNIT_BONUS if stage.unit and stage.unit == step.unit else 0.0)


def stage_steps(definition: FlowDefinition) -> dict[str, int]:
    """Which guide step each stage is (stage id → step index): the steps' `stage` keys, or for a
    file without them, aligned in order by name and lane; the first step is the application
    itself and never a stage. A stage that matches no step is left out."""
    explicit = {step.stage: index for index, step in enumerate(definition.steps) if step.stage}
    if explicit:
        return explicit
    stages, steps = definition.stages, definition.steps[1:]
    score = [[_similarity(stage, step) for step in steps] for stage in stages]
    best = [[0.0] * (len(steps) + 1) for _ in range(len(stages) + 1)]
    for i in reversed(range(len(stages))):
        for j in reversed(range(len(steps))):
            matched = score[i][j] + best[i + 1][j + 1] if score[i][j] >= _MATCH_THRESHOLD else 0
            best[i][j] = max(best[i + 1][j], best[i][j + 1], matched)
    pairs: dict[str, int] = {}
    i = j = 0
    while i < len(stages) and j < len(steps):
        if score[i][j] >= _MATCH_THRESHOLD and best[i][j] == score[i][j] + best[i + 1][j + 1]:
            pairs[stages[i].id] = j + 1
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs


@dataclass(frozen=True)
class _Entry:
    """One box of the chart: a guide step (with the stage it is, if any) or a stage alone."""

    node: str
    lane: str
    step: Step | None
    stage: Stage | None
    number: int = 0


def _entries(definition: FlowDefinition) -> list[_Entry]:
    matched = stage_steps(definition)
    by_step = {index: definition.stage_by_id(stage_id) for stage_id, index in matched.items()}
    loose: dict[int, list[Stage]] = {}
    anchor = 0
    for stage in definition.stages:
        if stage.id in matched:
            anchor = matched[stage.id]
        else:
            loose.setdefault(anchor, []).append(stage)
    first_lane = (definition.steps[0].unit if definition.steps else "") or definition.unit
    entries: list[_Entry] = []
    for index, step in enumerate(definition.steps):
        guarded = by_step.get(index)
        lane = step.unit or (guarded.unit if guarded else "") or first_lane
        entries.append(_Entry(f"step{index}", lane, step, guarded, index + 1))
        entries += [_Entry(f"stage_{s.id}", s.unit or first_lane, None, s)
                    for s in loose.get(index, [])]
    return entries


def lanes(definition: FlowDefinition) -> list[str]:
    """The units taking part, in the order they first appear (one swimlane each)."""
    return list(dict.fromkeys(entry.lane for entry in _entries(definition)))


# ---- labels ----------------------------------------------------------------------------------

def text_width(text: str) -> int:
    """Display columns: CJK and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width` columns. Latin words, numbers, addresses and short quoted
    phrases are not split unless longer than a line; closing punctuation stays on the line it
    closes."""
    lines: list[str] = []
    line, used = "", 0
    for token in _TOKEN.findall(text):
        size = text_width(token)
        if size > width:
            for char in token:
                line, used = _put(lines, line, used, char, width)
            continue
        line, used = _put(lines, line, used, token, width)
    return [*lines, line] if line else lines


def _put(lines: list[str], line: str, used: int, token: str, width: int) -> tuple[str, int]:
    size = text_width(token)
    if line and used + size > width and token[0] not in _NO_LINE_START:
        lines.append(line.rstrip())
        line, used = "", 0
    if not line and token.isspace():
        return line, used
    return line + token, used + size


def _row(lines: list[str], *, size: int = 10, color: str = "#222222", bold: bool = False,
         align: str = "LEFT") -> str:
    text = "<BR/>".join(escape(line, quote=False) for line in lines)
    if bold:
        text = f"<B>{text}</B>"
    return (f'<TR><TD ALIGN="{align}" BALIGN="{align}"><FONT POINT-SIZE="{size}" '
            f'COLOR="{color}">{text}</FONT></TD></TR>')


def _table(rows: list[str]) -> str:
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
            + "".join(rows) + "</TABLE>>")


def _box_label(definition: FlowDefinition, entry: _Entry) -> str:
    step, stage = entry.step, entry.stage
    if step is not None:
        title = f"{entry.number}. {step.title}"
        actor = step.actor
        limit = step.time_limit_days or (stage.time_limit_days if stage else None)
    else:
        assert stage is not None
        title, actor, limit = stage.name, approver_text(definition, stage), stage.time_limit_days
    rows = [_row(wrap(title, TITLE_WIDTH), size=12, bold=True, align="CENTER")]
    if actor:
        rows.append(_row(wrap(f"办理：{actor}", TEXT_WIDTH)))
    if stage is not None and stage.mode == "all":
        rows.append(_row(["方式：会签（全部同意方可通过）"]))
    if step is not None and step.materials:
        lines = ["材料："] + [line for m in step.materials for line in wrap(f"· {m}", TEXT_WIDTH)]
        rows.append(_row(lines))
    if limit:
        rows.append(_row([f"时限：{days_text(limit)} 个工作日"], color="#1f4e8c", bold=True))
    if step is not None and step.notes:
        rows.append(_row(wrap(f"说明：{step.notes}", TEXT_WIDTH), size=9, color="#555555"))
    return _table(rows)


def _title_label(definition: FlowDefinition) -> str:
    facts = [f"所属单位：{definition.unit}", f"事项类型：{definition.kind_label}"]
    if definition.platform is None:
        facts += [f"办理对象：{audience_text(definition)}",
                  f"办结时限：{days_text(definition.time_limit_days)} 个工作日"]
    if definition.status != "live":
        facts.append(f"状态：{STATUS_LABELS[definition.status]}")
    rows = [_row([f"{definition.name} · 业务流程图"], size=18, bold=True, align="CENTER"),
            _row(["　".join(facts)], size=11, align="CENTER")]
    rows += [_row([line], size=10, color="#444444", align="CENTER")
             for line in contact_lines(definition)]
    return _table(rows)


def _platform_label(definition: FlowDefinition) -> str:
    assert definition.platform is not None
    platform = definition.platform
    return _table([
        _row(["打开平台并登录"], size=12, bold=True, align="CENTER"),
        _row(wrap(f"网址：{platform.url}", TEXT_WIDTH)),
        _row(wrap(f"登录：{platform.login}", TEXT_WIDTH)),
    ])


def _can_do_label(definition: FlowDefinition) -> str:
    assert definition.platform is not None
    lines = ["可办理："] + [line for item in definition.platform.can_do
                          for line in wrap(f"· {item}", TEXT_WIDTH)]
    return _table([_row(lines)])


# ---- the chart -------------------------------------------------------------------------------

def _fill(entry: _Entry, index: int) -> str:
    if index == 0:
        return _COLORS["submit"]
    return _COLORS[entry.stage.kind] if entry.stage is not None else _COLORS["step"]


def _new_graph(definition: FlowDefinition) -> graphviz.Digraph:
    return graphviz.Digraph(
        definition.id,
        graph_attr={"rankdir": "TB", "newrank": "true", "label": _title_label(definition),
                    "labelloc": "t", "fontname": FONT, "nodesep": "0.4", "ranksep": "0.45",
                    "bgcolor": "white", "pad": "0.3"},
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": FONT,
                   "fontsize": "10", "color": "#5b6b7b", "margin": "0.12,0.06"},
        edge_attr={"fontname": FONT, "fontsize": "10", "color": "#444444"},
    )


_Node = tuple[str, str, dict[str, str]]


def _lane_nodes(definition: FlowDefinition, entries: list[_Entry]) -> dict[str, list[_Node]]:
    """Nodes per lane, in lane order; the decision before a conditional stage sits in the lane
    of the stage it guards."""
    per_lane: dict[str, list[_Node]] = {}
    for index, entry in enumerate(entries):
        nodes = per_lane.setdefault(entry.lane, [])
        if entry.stage is not None and entry.stage.when is not None:
            words = condition_text(definition, entry.stage.when) + "？"
            label = _table([_row(wrap(words, DIAMOND_WIDTH), align="CENTER")])
            nodes.append((f"{entry.node}_if", label,
                          {"shape": "diamond", "style": "filled",
                           "fillcolor": _COLORS["decision"], "margin": "0.02"}))
        nodes.append((entry.node, _box_label(definition, entry),
                      {"fillcolor": _fill(entry, index)}))
    return per_lane


def _add_lanes(graph: graphviz.Digraph, definition: FlowDefinition,
               entries: list[_Entry]) -> None:
    per_lane = _lane_nodes(definition, entries)
    if len(per_lane) == 1:
        for name, label, attrs in next(iter(per_lane.values())):
            graph.node(name, label, **attrs)
        return
    for index, (lane, nodes) in enumerate(per_lane.items()):
        with graph.subgraph(name=f"cluster_lane{index}") as cluster:
            cluster.attr(label=lane, labeljust="c", style="rounded,filled", fontsize="13",
                         fillcolor=_LANE_COLORS[index % len(_LANE_COLORS)], color="#9aa8b6",
                         fontname=FONT)
            for name, label, attrs in nodes:
                cluster.node(name, label, **attrs)


def _entry_point(entries: list[_Entry], index: int) -> str:
    if index >= len(entries):
        return "end"
    entry = entries[index]
    conditional = entry.stage is not None and entry.stage.when is not None
    return f"{entry.node}_if" if conditional else entry.node


def _add_edges(graph: graphviz.Digraph, entries: list[_Entry]) -> None:
    for index, entry in enumerate(entries):
        following = _entry_point(entries, index + 1)
        if entry.stage is not None and entry.stage.when is not None:
            graph.edge(f"{entry.node}_if", entry.node, label="是")
            graph.edge(f"{entry.node}_if", following, label="否")
        graph.edge(entry.node, following)
        back = _BACK_WORDS.get(entry.stage.kind) if entry.stage is not None else None
        if back and index > 0:
            # one entry point on the applicant's box keeps many 驳回 edges readable
            graph.edge(entry.node, entries[0].node, label=back, style="dashed",
                       color=_BACK_COLOR, fontcolor=_BACK_COLOR, constraint="false",
                       headport="e", samehead="back")


def _add_platform(graph: graphviz.Digraph, definition: FlowDefinition) -> str:
    """The platform's entry box and what can be done there; returns the entry node."""
    graph.node("platform", _platform_label(definition), fillcolor=_COLORS["submit"])
    graph.node("can_do", _can_do_label(definition), shape="note", style="filled",
               fillcolor=_COLORS["note"])
    graph.edge("platform", "can_do", style="dashed", arrowhead="none")
    return "platform"


def flowchart(definition: FlowDefinition) -> graphviz.Digraph:
    """The chart as a Graphviz graph (not yet laid out)."""
    graph = _new_graph(definition)
    entries = _entries(definition)
    terminal = {"shape": "oval", "style": "filled", "fillcolor": _COLORS["terminal"],
                "fontsize": "12"}
    graph.node("start", "开始", **terminal)
    _add_lanes(graph, definition, entries)
    graph.node("end", "办结" if definition.online else "结束", **terminal)
    first = _entry_point(entries, 0)
    if definition.platform is not None:
        graph.edge("start", _add_platform(graph, definition))
        graph.edge("platform", first)
    else:
        graph.edge("start", first)
    _add_edges(graph, entries)
    return graph


def render_bytes(definition: FlowDefinition, fmt: str) -> bytes:
    """The chart as SVG or PNG bytes. Blocking (runs `dot`): call it off the event loop."""
    if fmt not in FORMATS:
        raise ValueError(f"不支持的流程图格式 {fmt!r}（可用：{', '.join(FORMATS)}）")
    if shutil.which("dot") is None:
        raise RenderUnavailable("未安装 Graphviz（dot 命令），无法生成流程图")
    graph = flowchart(definition)
    if fmt == "png":
        graph.graph_attr["dpi"] = PNG_DPI
    try:
        return graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound as exc:
        raise RenderUnavailable("未安装 Graphviz（dot 命令），无法生成流程图") from exc
    except graphviz.CalledProcessError as exc:
        raise RenderUnavailable(f"Graphviz 生成流程图失败：{exc.stderr!r}") from exc
