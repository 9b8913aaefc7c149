"""`campusbot directory ...`: the school's directory.

    campusbot directory check [--file DRAFT] [--format text|md|json] [-o FILE] [--config PATH]
        for every flow and stage, who gets it for a sample applicant of each department and
        role, and what is missing; exit 0 when every stage resolves, 1 otherwise, 2 when the
        file has errors (the server would refuse it). Read-only: the synced directory with the
        configured file (or DRAFT) over it is checked in memory; the directory in force — and
        so every running server's routing — stays as it is
    campusbot directory sync [--channel NAME] [--config PATH]
        departments, 部门负责人, members and roles from each enabled channel that syncs its
        contacts (WeCom, DingTalk), each member's account linked to their person
        (storage/identities.py); then the directory file over them and the check's summary
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.channels.base import SyncResult
from bot.config import Settings


class BarProgress:
    """Directory sync progress as a tqdm bar on stderr."""

    def __init__(self, label: str) -> None:
        from tqdm import tqdm  # type: ignore[import-untyped]

        self.bar = tqdm(total=0, desc=f"同步通讯录（{label}）", unit="项", file=sys.stderr)

    def total(self, units: int) -> None:
        self.bar.total = units
        self.bar.refresh()

    def step(self) -> None:
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


async def directory_report(settings: Settings, snapshot: Any = None) -> Any:
    """The check of `snapshot`, by default the directory in force (synced rows with the file
    over them)."""
    from bot.services import action_registry, catalog_path, overrides_path
    from flows.catalog import Catalog
    from flows.directory_check import check_directory
    from storage.directory_store import load_snapshot

    catalog = await Catalog.load(catalog_path(settings), action_registry(),
                                 overrides_path(settings))
    return await check_directory(catalog.all(), snapshot or await load_snapshot())


def directory_check(args: argparse.Namespace) -> int:
    from bot.cli import settings_from
    from bot.services import demo_refusal, demo_refused
    from flows.directory_report import render
    from flows.problems import FlowFileError
    from storage.db import close_db, init_db
    from storage.directory_file import DirectoryFileError, read_directory_draft
    from storage.directory_store import snapshot_with

    settings = settings_from(args)
    name = args.file or settings.directory.file

    async def main() -> Any:
        if not args.file and demo_refused(settings):
            raise DirectoryFileError(demo_refusal(settings))
        file, errors = read_directory_draft(name) if name else (None, [])
        await init_db(settings.database.url)
        try:
            report = await directory_report(settings, await snapshot_with(file))
        finally:
            await close_db()
        report.refuse(errors)
        return report

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
    return 2 if report.refused else 0 if report.ok else 1


def summary(label: str, result: SyncResult) -> str:
    from storage.roles import ROLE_LABELS

    roles = "、".join(ROLE_LABELS.get(r, r) for r in result.roles) or "无"
    linked = f"新关联账号 {result.linked} 个。" if result.linked else ""
    return (f"{label}：同步完成：{result.departments} 个部门，{result.people} 位成员，"
            f"停用 {result.deactivated} 位不再可见的成员。{linked}按标签设置的角色：{roles}")


def directory_sync(args: argparse.Namespace) -> int:
    from bot import channels as registry
    from bot.channels.base import ChannelContext
    from bot.cli import settings_from
    from bot.clock import SystemClock
    from bot.flowcharts import Flowcharts
    from bot.services import demo_refusal, demo_refused, load_directory
    from storage.db import close_db, init_db
    from storage.directory_file import DirectoryFileError
    from storage.directory_store import apply_directory_file

    settings = settings_from(args)
    chosen = [p for p in registry.enabled(settings) if args.channel in (None, p.name, p.section)]
    if not chosen:
        names = "、".join(f"{p.label}（{p.section}）" for p in registry.plugins())
        print(f"没有启用{f' {args.channel} ' if args.channel else '可同步通讯录的'}渠道："
              f"请在配置文件中启用并填写密钥：{names}。", file=sys.stderr)
        return 2
    context = ChannelContext(settings=settings, clock=SystemClock(), flows=lambda _: None,
                             flowcharts=Flowcharts())

    async def main() -> int:
        await init_db(settings.database.url)
        synced = failed = 0
        try:
            for plugin in chosen:
                runtime = plugin.build(context)
                try:
                    if runtime.sync is None:
                        continue
                    progress = BarProgress(plugin.label)
                    try:
                        result = await runtime.sync(progress)
                    except Exception as exc:  # the platform's error, already without secrets
                        print(f"{plugin.label}通讯录同步失败：{exc}", file=sys.stderr)
                        failed += 1
                        continue
                    finally:
                        progress.close()
                finally:
                    await runtime.close()
                synced += 1
                print(summary(plugin.label, result))
            if not synced:
                if not failed:
                    print("启用的渠道都不能同步通讯录。", file=sys.stderr)
                return 1 if failed else 2
            if demo_refused(settings):
                await apply_directory_file(None)
                print(f"注意：{demo_refusal(settings)}\n同步后的通讯录已不再包含演示人员。",
                      file=sys.stderr)
            else:
                try:
                    await load_directory(settings)
                except DirectoryFileError as exc:
                    print(f"通讯录文件有误，仍使用上一次的内容：\n{exc}", file=sys.stderr)
            print((await directory_report(settings)).summary())
        finally:
            await close_db()
        return 1 if failed else 0
    return asyncio.run(main())


def register(commands: Any) -> None:
    from flows.directory_report import FORMATS

    directory = commands.add_parser("directory", help="通讯录工具")
    directory_commands = directory.add_subparsers(dest="directory_command", required=True)
    check = directory_commands.add_parser(
        "check", help="检查每个流程的每个环节能否在通讯录中找到办理人，列出缺失")
    check.add_argument("--file", help="检查这个通讯录文件（例如草稿）而不是配置中的文件；"
                                      "只检查，不会改变正在使用的通讯录")
    check.add_argument("--format", choices=FORMATS, default="text",
                       help="text（默认）、md 或 json")
    check.add_argument("-o", "--output", help="写入文件（默认输出到屏幕）")
    check.add_argument("--config", help="配置文件")
    check.set_defaults(func=directory_check)
    sync = directory_commands.add_parser(
        "sync", help="从已启用的渠道（企业微信、钉钉）同步部门、负责人、成员和角色")
    sync.add_argument("--config", help="配置文件")
    sync.add_argument("--channel", help="只同步这个渠道，例如 wecom")
    sync.set_defaults(func=directory_sync)
