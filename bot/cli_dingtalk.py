"""`campusbot dingtalk check`: are the [dingtalk] settings right, asked of DingTalk itself.

    credentials     POST /v1.0/oauth2/accessToken with client_id and client_secret
    Stream mode     POST /v1.0/gateway/connections/open (a ticket, never used: it lapses)
    contacts        topapi/v2/department/listsub of the root (通讯录只读权限, for `directory sync`)
    card template   POST /v1.0/card/instances: an instance of the template, created and never
                    delivered, under an outTrackId of its own

Exit 0 when everything needed works, 1 when something failed, 2 when DingTalk is not enabled.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from typing import Any

from bot.channels.dingtalk import cards
from bot.channels.dingtalk.client import DingtalkClient
from bot.channels.dingtalk.errors import DingtalkError
from bot.channels.dingtalk.frames import SUBSCRIPTIONS
from bot.clock import SystemClock
from storage.db import close_db, init_db

SAMPLE_CARD = {"title": "campusbot 检查", "subtitle": "", "facts": [["检查", "模板变量"]],
               "buttons": [{"key": "approve", "text": "同意", "style": "primary"}]}


async def run_checks(client: DingtalkClient, *, stream: bool, template_id: str) -> list[
        tuple[str, str | None]]:
    """(what, None when fine / the problem in Chinese) for each check."""
    results: list[tuple[str, str | None]] = []

    async def attempt(what: str, work: Any) -> bool:
        try:
            await work
        except DingtalkError as exc:
            results.append((what, str(exc)))
            return False
        results.append((what, None))
        return True

    # a new token, not one cached in the database: the credentials themselves are checked
    if not await attempt("应用凭据（client_id / client_secret）", client.fetch_token()):
        return results
    if stream:
        await attempt("Stream 模式注册", client.open_connection(SUBSCRIPTIONS))
    await attempt("通讯录读取权限", client.oapi("/topapi/v2/department/listsub", {"dept_id": 1}))
    if template_id:
        await attempt(f"卡片模板 {template_id}", client.api("POST", "/v1.0/card/instances", {
            "cardTemplateId": template_id, "outTrackId": "check-" + secrets.token_hex(8),
            "cardData": {"cardParamMap": cards.param_map(SAMPLE_CARD)},
            "callbackType": "STREAM", "userIdType": 1}))
    return results


def dingtalk_check(args: argparse.Namespace) -> int:
    from bot.cli import settings_from

    settings = settings_from(args)
    section = settings.section("dingtalk")
    if not section.enabled:
        print("钉钉未启用：请在配置文件 [dingtalk] 中设置 enabled = true 及 client_id、"
              "client_secret 等。", file=sys.stderr)
        return 2

    async def main() -> list[tuple[str, str | None]]:
        await init_db(settings.database.url)
        client = DingtalkClient(section, SystemClock())
        try:
            return await run_checks(client, stream=section.mode == "stream",
                                    template_id=section.card_template_id)
        finally:
            await client.close()
            await close_db()

    results = asyncio.run(main())
    for what, problem in results:
        print(f"{'✓' if problem is None else '✗'} {what}" + (f"：{problem}" if problem else ""))
    if not section.card_template_id:
        print("- 未设置 card_template_id：审批以消息卡片 + “同意 N / 驳回 N”指令进行")
    return 0 if all(problem is None for _, problem in results) else 1


def register(commands: Any) -> None:
    dingtalk = commands.add_parser("dingtalk", help="钉钉工具")
    dingtalk_commands = dingtalk.add_subparsers(dest="dingtalk_command", required=True)
    check = dingtalk_commands.add_parser("check", help="向钉钉验证应用凭据、Stream 模式、"
                                                       "通讯录权限和卡片模板")
    check.add_argument("--config", help="配置文件")
    check.set_defaults(func=dingtalk_check)
