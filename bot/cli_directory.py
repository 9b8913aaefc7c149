"""`campusbot directory ...`: the school's directory.

    campusbot directory check [--format text|md|json] [-o FILE] [--config PATH]
        for every flow and stage, who gets it for a sample applicant of each department and
        role, and what is missing; exit 0 when every stage resolves, 1 otherwise
    campusbot directory sync [--config PATH]
        departments, 部门负责人, members and role tags from WeCom, then the same check's summary
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.config import Settings


class BarProgress:
    """Directory sync progress as a tqdm bar on stderr."""

    def __init__(self) -> None:
        from tqdm import tqdm  # type: ignore[import-untyped]

        self.bar = tqdm(total=0, desc="同步通讯录", unit="项", file=sys.stderr)

    def total(self, units: int) -> None:
        self.bar.total = units
        self.bar.refresh()

    def step(self) -> None:
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


async def directory_report(settings: Settings) -> Any:
    """The check of the directory in force (synced rows with the file over them)."""
    from bot.services import action_registry, catalog_path, overrides_path
    from flows.catalog import Catalog
    from flows.directory_check import check_directory
    from storage.directory_store import load_snapshot

    catalog = await Catalog.load(catalog_path(settings), action_registry(),
                                 overrides_path(settings))
    return await check_directory(catalog.all(), await load_snapshot())


def directory_check(args: argparse.Namespace) -> int:
    from bot.cli import settings_from
    from bot.services import load_directory
    from flows.directory_report import render
    from flows.problems import FlowFileError
    from storage.db import close_db, init_db
    from storage.directory_file import DirectoryFileError

    settings = settings_from(args)

    async def main() -> Any:
        await init_db(settings.database.url, setup=lambda: load_directory(settings))
        try:
            return await directory_report(settings)
        finally:
            await close_db()

    try:
        report = asyncio.run(main())
    except (DirectoryFileError, FlowFileError) as exc:
        print(exc, file=sys.stderr)
        return 2
    text = render(report, args.format)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"无法写入 {args.output}：{exc}", file=sys.stderr)
            return 2
        print(report.summary(), file=sys.stderr)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0 if report.ok else 1


def directory_sync(args: argparse.Namespace) -> int:
    from bot.channels.wecom.directory_sync import DirectorySync
    from bot.cli_wecom import run_with_client, wecom_settings
    from bot.services import DEMO_BESIDE_REAL_CHANNEL, demo_refused, load_directory
    from storage.directory_file import DirectoryFileError
    from storage.directory_store import apply_directory_file
    from storage.roles import ROLE_LABELS

    settings = wecom_settings(args)
    if settings is None:
        return 2

    async def work(client: Any) -> int:
        progress = BarProgress()
        try:
            report = await DirectorySync(client).run(progress)
        finally:
            progress.close()
        tags = "、".join(ROLE_LABELS.get(r, r) for r in report.roles) or "无"
        print(f"同步完成：{report.departments} 个部门，{report.people} 位成员，"
              f"停用 {report.deactivated} 位不再可见的成员。按标签设置的角色：{tags}")
        if demo_refused(settings):
            await apply_directory_file(None)
            print(f"注意：{DEMO_BESIDE_REAL_CHANNEL}\n同步后的通讯录已不再包含演示人员。",
                  file=sys.stderr)
        else:
            try:
                await load_directory(settings)
            except DirectoryFileError as exc:
                print(f"通讯录文件有误，仍使用上一次的内容：\n{exc}", file=sys.stderr)
        checked = await directory_report(settings)
        print(checked.summary())
        return 0
    return run_with_client(settings, work)


def register(commands: Any) -> None:
    from flows.directory_report import FORMATS

    directory = commands.add_parser("directory", help="通讯录工具")
    directory_commands = directory.add_subparsers(dest="directory_command", required=True)
    check = directory_commands.add_parser(
        "check", help="检查每个流程的每个环节能否在通讯录中找到办理人，列出缺失")
    check.add_argument("--format", choices=FORMATS, default="text",
                       help="text（默认）、md 或 json")
    check.add_argument("-o", "--output", help="写入文件（默认输出到屏幕）")
    check.add_argument("--config", help="配置文件")
    check.set_defaults(func=directory_check)
    sync = directory_commands.add_parser("sync", help="从企业微信同步部门、负责人、成员和角色标签")
    sync.add_argument("--config", help="配置文件")
    sync.set_defaults(func=directory_sync)
