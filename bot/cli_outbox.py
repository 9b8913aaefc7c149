"""`campusbot outbox`: the messages the outbox gave up (dead letters), and sending them again.

    campusbot outbox dead [--limit N] [--config PATH]     newest first: when, to whom, what, why
    campusbot outbox retry ID [ID …] [--config PATH]      put them back in their user's queue
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from bot.clock import SystemClock
from bot.config import Settings
from storage import outbox
from storage.db import close_db, init_db
from storage.models import OutboxMessage

KINDS = {"text": "文字", "card": "卡片", "card_update": "卡片更新", "image": "图片"}


def _run(settings: Settings, work: Callable[[], Awaitable[int]]) -> int:
    async def main() -> int:
        await init_db(settings.database.url)
        try:
            return await work()
        finally:
            await close_db()
    return asyncio.run(main())


def describe(message: OutboxMessage, timezone: Any) -> str:
    when = message.failed_at or message.created_at
    payload = message.payload or {}
    kind = KINDS.get(str(payload.get("type")), str(payload.get("type")))
    preview = str(payload.get("text") or payload.get("title") or payload.get("status") or "")
    preview = preview.replace("\n", " ")[:30]
    return (f"#{message.id}  {when.astimezone(timezone):%m-%d %H:%M}  {message.channel}/"
            f"{message.user_id}  {kind}「{preview}」  尝试 {message.attempts} 次："
            f"{message.last_error[:120]}")


def dead(args: argparse.Namespace) -> int:
    from bot.cli import settings_from

    settings = settings_from(args)

    async def work() -> int:
        letters = await outbox.dead_letters(args.limit)
        if not letters:
            print("没有发送失败的消息。")
            return 0
        print(f"发送失败、已停止重试的消息（最新的 {len(letters)} 条）：")
        for message in letters:
            print(describe(message, settings.zone))
        print("重新发送：campusbot outbox retry 编号")
        return 0
    return _run(settings, work)


def retry(args: argparse.Namespace) -> int:
    from bot.cli import settings_from

    settings = settings_from(args)

    async def work() -> int:
        missing = []
        for message_id in args.ids:
            if not await outbox.retry_dead(message_id, SystemClock().now()):
                missing.append(message_id)
        done = len(args.ids) - len(missing)
        if done:
            print(f"已重新排队 {done} 条消息，服务运行时会按顺序发送。")
        if missing:
            print("不是发送失败的消息（或编号不存在）：" + "、".join(f"#{m}" for m in missing),
                  file=sys.stderr)
            return 1
        return 0
    return _run(settings, work)


def register(commands: Any) -> None:
    parser = commands.add_parser("outbox", help="发送失败的消息（死信）")
    outbox_commands = parser.add_subparsers(dest="outbox_command", required=True)
    listing = outbox_commands.add_parser("dead", help="列出已停止重试的消息")
    listing.add_argument("--limit", type=int, default=50, help="最多列出几条（默认 50）")
    listing.add_argument("--config", help="配置文件")
    listing.set_defaults(func=dead)
    again = outbox_commands.add_parser("retry", help="重新发送指定编号的消息")
    again.add_argument("ids", type=int, nargs="+", help="消息编号（见 outbox dead）")
    again.add_argument("--config", help="配置文件")
    again.set_defaults(func=retry)
