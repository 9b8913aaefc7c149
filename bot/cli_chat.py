"""`campusbot chat --as USER`: the simulator in a terminal, talking to the running server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any

import aiohttp


def _render(payload: dict[str, Any]) -> str:
    kind = payload.get("type")
    if kind in ("text", "choices"):
        return str(payload["text"])
    if kind == "card":
        facts = "\n".join(f"  {k}：{v}" for k, v in payload["facts"])
        buttons = " ".join(f"[{b['text']}:{b['key']}]" for b in payload["buttons"])
        return (f"┌ {payload['title']}\n  {payload['subtitle']}\n{facts}\n"
                f"  {buttons}  （输入 /tap {payload['card_key']} 按钮键）")
    if kind == "card_update":
        return f"（卡片 {payload['card_key']}：{payload['status']}）"
    if kind == "image":
        return f"（图片：{payload.get('caption', '')}，请在浏览器模拟器中查看）"
    return str(payload)


async def _chat(url: str, user: str) -> int:
    async with aiohttp.ClientSession(base_url=url) as session:
        try:
            async with session.get("/sim/api/users") as response:
                users = (await response.json())["users"]
        except (aiohttp.ClientError, KeyError, ValueError):
            print(f"无法连接 {url}，请先运行 make run（或 campusbot serve）。", file=sys.stderr)
            return 2
        me = next((u for u in users if u["id"] == user), None)
        if me is None:
            print(f"通讯录中没有用户 {user}。可用：{', '.join(u['id'] for u in users)}",
                  file=sys.stderr)
            return 2
        print(f"以 {me['name']}（{user}）身份聊天。"
              "输入消息回车发送；/tap 卡片 按钮 点卡片；Ctrl-D 退出。")

        async def poll() -> None:
            while True:
                await asyncio.sleep(2)
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get("/sim/api/inbox", params={"user": user}) as response:
                        for payload in (await response.json())["replies"]:
                            print("\n" + _render(payload) + "\n> ", end="", flush=True)

        poller = asyncio.create_task(poll())
        try:
            while True:
                line = await asyncio.to_thread(input, "> ")
                if not line.strip():
                    continue
                if line.startswith("/tap "):
                    _, card, action = ([*line.split(), "", ""])[:3]
                    path, body = "/sim/api/actions", {"user": user, "card": card, "action": action}
                else:
                    path, body = "/sim/api/messages", {"user": user, "text": line}
                async with session.post(path, json=body) as response:
                    data = await response.json()
                if data.get("error"):
                    print(f"（错误）{data['error']}")
                for payload in data.get("replies", []):
                    print(_render(payload))
        except (EOFError, KeyboardInterrupt):
            return 0
        finally:
            poller.cancel()


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_chat(args.url, args.user))
