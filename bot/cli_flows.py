"""`campusbot flows ...`: tools for the flow files."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any


def flows_check(args: argparse.Namespace) -> int:
    from bot.cli import settings_from
    from bot.services import action_registry, catalog_path
    from flows.catalog import check_flows
    from storage.directory import DirectoryFileError, read_directory_file

    settings = settings_from(args)
    path = Path(args.path) if args.path else catalog_path(settings)
    try:
        directory = read_directory_file(args.directory or settings.directory.file or "demo")
    except DirectoryFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    definitions, problems = asyncio.run(check_flows(
        path, action_registry(), directory, list(directory.people_by_id.values())))
    for problem in problems:
        print(problem)
    if problems:
        print(f"发现 {len(problems)} 个问题。", file=sys.stderr)
        return 1
    print(f"{len(definitions)} 个流程文件全部通过检查。")
    return 0


def register(commands: Any) -> None:
    flows_parser = commands.add_parser("flows", help="流程文件工具")
    flows_commands = flows_parser.add_subparsers(dest="flows_command", required=True)
    check_parser = flows_commands.add_parser("check", help="检查流程文件")
    check_parser.add_argument("path", nargs="?", help="流程文件或目录（默认内置流程目录）")
    check_parser.add_argument("--directory", help="用来检查审批人的通讯录文件（默认按配置）")
    check_parser.add_argument("--config", help="配置文件")
    check_parser.set_defaults(func=flows_check)
