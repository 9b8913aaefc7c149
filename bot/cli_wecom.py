"""`campusbot wecom menu` and `campusbot directory sync`: WeCom set-up from the terminal.

    campusbot wecom menu [--config PATH]         create the app menu (办事指南 / 我要办理 / 我的)
    campusbot directory sync [--config PATH]     departments, leaders, members and role tags
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from tqdm import tqdm  # type: ignore[import-untyped]

from bot.channels.wecom.client import WecomClient
from bot.channels.wecom.directory_sync import DirectorySync
from bot.channels.wecom.errors import WecomError
from bot.channels.wecom.menu import MenuError, create_menu
from bot.clock import SystemClock
from bot.config import Settings
from storage.db import close_db, init_db
from storage.directory import ROLE_LABELS


class BarProgress:
    """Directory sync progress as a tqdm bar on stderr."""

    def __init__(self) -> None:
        self.bar = tqdm(total=0, desc="同步通讯录", unit="项", file=sys.stderr)

    def total(self, units: int) -> None:
        self.bar.total = units
        self.bar.refresh()

    def step(self) -> None:
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _settings(args: argparse.Namespace) -> Settings | None:
    from bot.cli import settings_from

    settings = settings_from(args)
    if not settings.wecom.enabled:
        print("企业微信未启用：请在配置文件 [wecom] 中设置 enabled = true 及 corp_id、agent_id、"
              "secret 等。", file=sys.stderr)
        return None
    return settings


def _run(settings: Settings, work: Callable[[WecomClient], Awaitable[int]]) -> int:
    async def main() -> int:
        await init_db(settings.database.url)
        client = WecomClient(settings.wecom, SystemClock())
        try:
            return await work(client)
        except WecomError as exc:
            print(f"企业微信接口调用失败：{exc}", file=sys.stderr)
            return 1
        finally:
            await client.close()
            await close_db()
    return asyncio.run(main())


def wecom_menu(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings is None:
        return 2

    async def work(client: WecomClient) -> int:
        try:
            await create_menu(client)
        except MenuError as exc:
            print(f"菜单不符合企业微信的规则：{exc}", file=sys.stderr)
            return 2
        print("应用菜单已创建：办事指南 / 我要办理 / 我的（我的申请、待办）。"
              "成员重新进入应用后可见。")
        return 0
    return _run(settings, work)


def directory_sync(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings is None:
        return 2

    async def work(client: WecomClient) -> int:
        progress = BarProgress()
        try:
            report = await DirectorySync(client).run(progress)
        finally:
            progress.close()
        tags = "、".join(ROLE_LABELS.get(r, r) for r in report.roles) or "无（新成员默认为职工）"
        print(f"同步完成：{report.departments} 个部门，{report.people} 位成员，"
              f"停用 {report.deactivated} 位不再可见的成员。按标签设置的角色：{tags}")
        return 0
    return _run(settings, work)


def register(commands: Any) -> None:
    wecom = commands.add_parser("wecom", help="企业微信工具")
    wecom_commands = wecom.add_subparsers(dest="wecom_command", required=True)
    menu = wecom_commands.add_parser("menu",
                                     help="创建应用菜单（办事指南 / 我要办理 / 我的申请 / 待办）")
    menu.add_argument("--config", help="配置文件")
    menu.set_defaults(func=wecom_menu)

    directory = commands.add_parser("directory", help="通讯录工具")
    directory_commands = directory.add_subparsers(dest="directory_command", required=True)
    sync = directory_commands.add_parser("sync", help="从企业微信同步部门、负责人、成员和角色标签")
    sync.add_argument("--config", help="配置文件")
    sync.set_defaults(func=directory_sync)
