"""The app's menu in WeCom, set up once with `campusbot wecom menu` (menu/create, doc 90231).

WeCom allows 1–3 top-level buttons (names ≤ 16 bytes) with 1–5 sub-buttons (≤ 40 bytes) and
keys ≤ 128 bytes; a button with sub-buttons sends no event itself. The keys are the menu events
handlers/router.py answers.
"""

from __future__ import annotations

from typing import Any

from bot.channels.wecom.client import WecomClient

MENU: dict[str, Any] = {"button": [
    {"type": "click", "name": "办事指南", "key": "menu_guide"},
    {"type": "click", "name": "我要办理", "key": "menu_apply"},
    {"name": "我的", "sub_button": [
        {"type": "click", "name": "我的申请", "key": "menu_mine"},
        {"type": "click", "name": "待办", "key": "menu_tasks"},
    ]},
]}


class MenuError(ValueError):
    """The menu breaks one of WeCom's rules; the message says which."""


def check_menu(menu: dict[str, Any]) -> None:
    top = menu.get("button") or []
    if not 1 <= len(top) <= 3:
        raise MenuError("1–3 个一级菜单")
    for button in top:
        _check_button(button, name_bytes=16)
        subs = button.get("sub_button")
        if subs is not None:
            if not 1 <= len(subs) <= 5:
                raise MenuError(f"{button['name']}：1–5 个二级菜单")
            for sub in subs:
                _check_button(sub, name_bytes=40)
                if sub.get("sub_button"):
                    raise MenuError("菜单最多两级")


def _check_button(button: dict[str, Any], *, name_bytes: int) -> None:
    name = str(button.get("name", ""))
    if not name or len(name.encode()) > name_bytes:
        raise MenuError(f"菜单名“{name}”应为 1–{name_bytes} 字节")
    if button.get("sub_button"):
        return
    if button.get("type") == "click" and not 0 < len(str(button.get("key", "")).encode()) <= 128:
        raise MenuError(f"菜单“{name}”的 key 应为 1–128 字节")


def menu_keys(menu: dict[str, Any] = MENU) -> set[str]:
    keys = set()
    for button in menu["button"]:
        for item in button.get("sub_button") or [button]:
            if item.get("type") == "click":
                keys.add(item["key"])
    return keys


async def create_menu(client: WecomClient, menu: dict[str, Any] = MENU) -> None:
    check_menu(menu)
    await client.post("menu/create", menu, agentid=client.agent_id)
