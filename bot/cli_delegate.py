"""`campusbot delegate`: an administrator sets, lists or ends an approver's delegation.

    campusbot delegate set li_dean lit_vdean 2026-12-01 2026-12-05 [--reason 出差]
    campusbot delegate list [li_dean]
    campusbot delegate cancel li_dean

The same rules hold as when an approver says it in chat (flows/policy.py): the delegate is
staff, never oneself; it ends by itself after its last day.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime
from typing import Any

from flows.policy import Policy, TapRefused
from storage import applications as store
from storage.db import close_db, init_db
from storage.directory import DatabaseDirectory
from storage.models import Delegation


def run(args: argparse.Namespace) -> int:
    from bot.cli import settings_from
    from bot.services import load_directory
    from storage.directory_store import current_generation

    settings = settings_from(args)

    async def first_directory() -> None:
        # the directory in force is the servers' to change; only a database no server has
        # started on yet gets the configured file
        if await current_generation() == 0:
            await load_directory(settings)

    async def main() -> int:
        await init_db(settings.database.url, setup=first_directory)
        try:
            return await _command(args)
        finally:
            await close_db()
    return asyncio.run(main())


async def _command(args: argparse.Namespace) -> int:
    directory = DatabaseDirectory()
    now = datetime.now(UTC)
    today = now.astimezone().date()
    if args.action == "set":
        principal = await directory.person(args.principal)
        delegate = await directory.person(args.delegate or "")
        if principal is None or delegate is None:
            print(f"通讯录中找不到 {args.principal if principal is None else args.delegate}",
                  file=sys.stderr)
            return 1
        try:
            first, last = date.fromisoformat(args.start), date.fromisoformat(args.end)
        except ValueError:
            print("日期应为 2026-12-01 这样的格式", file=sys.stderr)
            return 2
        if last < first:
            print("结束日期早于开始日期", file=sys.stderr)
            return 2
        try:
            await Policy(directory).check_delegate(principal, delegate)
        except TapRefused as refused:
            print(refused, file=sys.stderr)
            return 1
        await store.add_delegation(principal_id=principal.id, delegate_id=delegate.id,
                                   starts_on=first, ends_on=last, reason=args.reason,
                                   source="admin", created_by="admin", now=now)
        print(f"已设置：{first}–{last} {principal.name} 的审批由 {delegate.name} 代理")
        return 0
    if args.action == "cancel":
        count = await store.cancel_delegations(args.principal, today, now)
        print(f"已取消 {count} 项代理")
        return 0
    query = Delegation.filter(cancelled_at__isnull=True, ends_on__gte=today)
    if args.principal:
        query = query.filter(principal_id=args.principal)
    for row in await query.order_by("starts_on"):
        print(f"{row.principal_id} → {row.delegate_id}  {row.starts_on}–{row.ends_on}  "
              f"({row.source}) {row.reason}")
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser("delegate", help="设置、查看或取消审批代理（管理员）")
    parser.add_argument("action", choices=["set", "list", "cancel"])
    parser.add_argument("principal", nargs="?", default="", help="外出的审批人 id")
    parser.add_argument("delegate", nargs="?", default="", help="代理人 id（set）")
    parser.add_argument("start", nargs="?", default="", help="开始日期 2026-12-01（set）")
    parser.add_argument("end", nargs="?", default="", help="结束日期 2026-12-05（set）")
    parser.add_argument("--reason", default="", help="说明")
    parser.add_argument("--config", help="配置文件")
    parser.set_defaults(func=run)
