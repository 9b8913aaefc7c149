"""`campusbot wecom menu`: WeCom set-up from the terminal (`directory sync`: cli_directory.py).

    campusbot wecom menu [--config PATH]         create the app menu (办事指南 / 我要办理 / 我的)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from bot.channels.wecom.client import WecomClient
from bot.channels.wecom.errors import WecomError
from bot.channels.wecom.menu import MenuError, create_menu
from bot.clock import SystemClock
from bot.config import Settings
from storage.db import close_db, init_db


def wecom_settings(args: argparse.Namespace) -> Settings | None:
    from bot.cli import settings_from

    settings = settings_from(args)
    if not settings.wecom.enabled:
        print("企业微信未启用：请在配置文件 [wecom] 中设置 enabled = true 及 corp_id、agent_id、"
              "secret 等。", file=sys.stderr)
        return None
    return settings


def run_with_client(settings: Settings, work: Callable[[WecomClient], Awaitable[int]]) -> int:
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
    settings = wecom_settings(args)
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
    return run_with_client(settings, work)


def register(commands: Any) -> None:
    wecom = commands.add_parser("wecom", help="企业微信工具")
    wecom_commands = wecom.add_subparsers(dest="wecom_command", required=True)
    menu = wecom_commands.add_parser("menu",
                                     help="创建应用菜单（办事指南 / 我要办理 / 我的申请 / 待办）")
    menu.add_argument("--config", help="配置文件")
    menu.set_defaults(func=wecom_menu)
