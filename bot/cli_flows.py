"""`campusbot flows ...`: tools for the flow files."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flows.definition import FlowDefinition
    from flows.problems import Problem


def flows_check(args: argparse.Namespace) -> int:
    from bot.cli import settings_from
    from bot.services import action_registry, catalog_path
    from flows.catalog import check_flows

    settings = settings_from(args)
    path = Path(args.path) if args.path else catalog_path(settings)
    definitions, problems = asyncio.run(check_flows(path, action_registry()))
    for problem in problems:
        print(problem)
    if problems:
        print(f"发现 {len(problems)} 个问题。", file=sys.stderr)
        return 1
    print(f"{len(definitions)} 个流程文件全部通过检查。"
          "审批人能否在通讯录中找到，请运行 campusbot directory check。")
    return 0


def _catalog(args: argparse.Namespace, path: str | None) -> Path:
    from bot.cli import settings_from
    from bot.services import catalog_path

    return Path(path) if path else catalog_path(settings_from(args))


def _read(path: Path) -> tuple[list[FlowDefinition], list[Problem]]:
    from flows.loader import read_flow_files

    return read_flow_files(path)


def _export_format(args: argparse.Namespace) -> str | None:
    """--format, or the output file's extension; None (after saying why) when unusable."""
    from flows.export import FORMATS

    suffix = Path(args.output).suffix.lower().lstrip(".") if args.output else ""
    fmt = (args.format or "").lower()
    if not fmt and suffix not in FORMATS:
        what = f"无法从扩展名 .{suffix} 判断导出格式，" if suffix else ""
        print(f"{what}请用 --format 指定导出格式（json、xlsx 或 md）。", file=sys.stderr)
        return None
    fmt = fmt or suffix
    if fmt not in FORMATS:
        print(f"不支持的导出格式 {fmt}：请用 json、xlsx 或 md。", file=sys.stderr)
        return None
    if suffix in FORMATS and suffix != fmt:
        print(f"导出格式 {fmt} 与输出文件扩展名 .{suffix} 不一致。", file=sys.stderr)
        return None
    if fmt == "xlsx" and not args.output:
        print("xlsx 是二进制文件，请用 -o 指定输出文件，例如 -o 业务流程梳理统计表.xlsx。",
              file=sys.stderr)
        return None
    return fmt


def _write(output: str, data: bytes) -> bool:
    try:
        Path(output).write_bytes(data)
    except OSError as exc:
        print(f"无法写入 {output}：{exc}", file=sys.stderr)
        return False
    return True


def flows_export(args: argparse.Namespace) -> int:
    """Export every readable flow file; files with problems are left out and reported."""
    from flows.export import export_bytes

    fmt = _export_format(args)
    if fmt is None:
        return 2
    definitions, problems = _read(_catalog(args, args.path))
    broken = {p.file for p in problems}
    for problem in problems:
        print(problem, file=sys.stderr)
    exported = [d for d in definitions if d.source not in broken]
    data = export_bytes(exported, fmt)
    if args.output:
        if not _write(args.output, data):
            return 1
        print(f"已导出 {len(exported)} 个流程到 {args.output}。", file=sys.stderr)
    else:
        sys.stdout.write(data.decode("utf-8"))
        sys.stdout.flush()
    if broken:
        print(f"有 {len(broken)} 个流程文件存在问题，未导出（见上）；"
              "请先用 campusbot flows check 修正。", file=sys.stderr)
        return 1
    return 0


def _find(definitions: list[FlowDefinition], name: str) -> FlowDefinition | None:
    return next((d for d in definitions if name in (d.id, d.name)), None)


def _not_found(definitions: list[FlowDefinition], problems: list[Problem], name: str) -> None:
    print(f"没有找到流程“{name}”：请写流程名称（如 教职工请销假审批）或流程 id"
          "（如 staff_leave）。", file=sys.stderr)
    similar = [d.name for d in definitions if name in d.name or d.name in name]
    if similar:
        print("您是不是要找：" + "、".join(similar), file=sys.stderr)
    if problems:
        print("另外，以下流程文件存在问题，要找的流程可能在其中：", file=sys.stderr)
        for problem in problems:
            print(problem, file=sys.stderr)


def flows_render(args: argparse.Namespace) -> int:
    """Draw one process's 业务流程图 to an .svg or .png file."""
    from flows.render import FORMATS, RenderUnavailable, render_bytes

    if not args.output:
        print("请用 -o 指定输出文件，例如 -o 流程图.png（支持 .svg 和 .png）。", file=sys.stderr)
        return 2
    fmt = Path(args.output).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        print(f"不支持的文件类型“{Path(args.output).suffix or '（无扩展名）'}”："
              "请输出为 .svg 或 .png 文件。", file=sys.stderr)
        return 2
    definitions, problems = _read(_catalog(args, args.catalog))
    definition = _find(definitions, args.name)
    if definition is None:
        _not_found(definitions, problems, args.name)
        return 2
    own = [p for p in problems if p.file == definition.source]
    for problem in own:
        print(f"注意：{problem}", file=sys.stderr)
    try:
        data = render_bytes(definition, fmt)
    except RenderUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    if not _write(args.output, data):
        return 1
    print(f"已生成《{definition.name}》业务流程图：{args.output}", file=sys.stderr)
    return 0


def register(commands: Any) -> None:
    flows_parser = commands.add_parser("flows", help="流程文件工具")
    flows_commands = flows_parser.add_subparsers(dest="flows_command", required=True)
    check_parser = flows_commands.add_parser("check", help="检查流程文件")
    check_parser.add_argument("path", nargs="?", help="流程文件或目录（默认内置流程目录）")
    check_parser.add_argument("--config", help="配置文件")
    check_parser.set_defaults(func=flows_check)

    export_parser = flows_commands.add_parser(
        "export", help="导出业务流程梳理统计表（xlsx）、数据（json）或办事指南（md）")
    export_parser.add_argument("path", nargs="?", help="流程文件或目录（默认内置流程目录）")
    export_parser.add_argument("--format", help="json、xlsx 或 md（默认按 -o 的扩展名）")
    export_parser.add_argument("-o", "--output", help="输出文件（json、md 不指定时输出到屏幕）")
    export_parser.add_argument("--config", help="配置文件")
    export_parser.set_defaults(func=flows_export)

    render_parser = flows_commands.add_parser("render",
                                              help="生成一个流程的业务流程图（svg 或 png）")
    render_parser.add_argument("name", help="流程名称或 id，例如 货物及服务采购申请")
    render_parser.add_argument("-o", "--output", help="输出文件：*.svg 或 *.png（必填）")
    render_parser.add_argument("--catalog", help="流程文件或目录（默认内置流程目录）")
    render_parser.add_argument("--config", help="配置文件")
    render_parser.set_defaults(func=flows_render)
