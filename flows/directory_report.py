"""`campusbot directory check` output: text for the terminal, Markdown to share, JSON for tools."""

from __future__ import annotations

import json
from dataclasses import asdict

from flows.directory_check import DirectoryReport, Route, StageReport

FORMATS = ("text", "md", "json")


def _groups(stage: StageReport) -> list[tuple[list[str], Route]]:
    """Routes with the same outcome, with the departments (and roles) they came from."""
    groups: dict[tuple[tuple[str, ...], str, str], tuple[list[str], Route]] = {}
    for route in stage.routes:
        key = (route.approvers, route.gap, route.fallback)
        where = groups.setdefault(key, ([], route))[0]
        department = f"{route.department}（负责人本人）" if route.head else route.department
        if department not in where:
            where.append(department)
    return list(groups.values())


def _outcome(route: Route) -> str:
    names = "、".join(route.approvers)
    if not route.gap:
        return names
    if names:
        return f"{names}（代为处理：{route.gap}）"
    return f"无人（{route.gap}；可以代为处理的{route.fallback}也都找不到）"


def _stage_lines(stage: StageReport) -> list[str]:
    lines = [f"  {stage.name}（{stage.approver_text}）"]
    groups = _groups(stage)
    if not groups:
        lines.append("    （没有适用的申请人）")
    elif len(groups) == 1:
        lines.append(f"    全部申请人 → {_outcome(groups[0][1])}")
    else:
        lines += [f"    {'、'.join(departments)} → {_outcome(route)}"
                  for departments, route in groups]
    return lines


def as_text(report: DirectoryReport) -> str:
    lines = [report.summary(), ""]
    if report.findings:
        lines.append(f"需要补充（{len(report.findings)} 处）：")
        lines += [f"  {n}. {finding.text()}" for n, finding in enumerate(report.findings, 1)]
        lines.append("")
    if report.file_problems:
        lines.append("通讯录文件问题：")
        lines += [f"  - {problem}" for problem in report.file_problems]
        lines.append("")
    if report.notes:
        lines.append("提示：")
        lines += [f"  - {note}" for note in report.notes]
        lines.append("")
    lines.append("各流程派单情况：")
    for flow in report.flows:
        if not flow.online:
            lines.append(f"【{flow.name}】（{flow.unit}）平台类事项，无需派单")
            continue
        lines.append(f"【{flow.name}】（{flow.unit}，可申请 {flow.applicants} 人）")
        for stage in flow.stages:
            lines += _stage_lines(stage)
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def as_markdown(report: DirectoryReport) -> str:
    lines = ["# 通讯录检查", "", report.summary(), ""]
    if report.findings:
        lines += ["## 需要补充", ""]
        lines += [f"{n}. " + finding.text().replace("\n   另：", "\n   - 另：")
                  for n, finding in enumerate(report.findings, 1)]
        lines.append("")
    if report.file_problems:
        lines += ["## 通讯录文件问题", ""] + [f"- {p}" for p in report.file_problems] + [""]
    if report.notes:
        lines += ["## 提示", ""] + [f"- {note}" for note in report.notes] + [""]
    lines += ["## 各流程派单情况", "", "| 流程 | 环节 | 申请人所在部门 | 办理人 | 缺失 |",
              "|---|---|---|---|---|"]
    for flow in report.flows:
        if not flow.online:
            lines.append(f"| {_cell(flow.name)} | （平台类） | | | |")
            continue
        for stage in flow.stages:
            for departments, route in _groups(stage) or [([], None)]:
                outcome = "、".join(route.approvers) if route else ""
                gap = route.gap if route else "没有适用的申请人"
                lines.append(f"| {_cell(flow.name)} | {_cell(stage.name)} | "
                             f"{_cell('、'.join(departments))} | {_cell(outcome)} | {_cell(gap)} |")
    return "\n".join(lines) + "\n"


def as_json(report: DirectoryReport) -> str:
    data = {"ok": report.ok, "refused": report.refused, "summary": report.summary(),
            "findings": [{"gap": f.gap, "flows": list(f.flows), "text": f.text(),
                          "effects": [asdict(e) for e in f.effects]} for f in report.findings],
            "file_problems": report.file_problems, "notes": report.notes,
            "departments": report.departments, "people": report.people,
            "flows": [asdict(flow) for flow in report.flows]}
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def render(report: DirectoryReport, fmt: str) -> str:
    return {"text": as_text, "md": as_markdown, "json": as_json}[fmt](report)
