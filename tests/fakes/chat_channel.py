"""A second chat platform for tests, plugged into the channel registry like WeCom: its own
config section, an HTTP route for what its users type or tap (with its own user ids), and
outbound delivery recorded in order, to the account the person has on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot import channels, keys
from bot.channels.base import ChannelContext, ChannelRuntime, DeliveryError
from flows.incoming import Incoming
from storage import identities

NAME = "chat"


@dataclass(frozen=True)
class ChatSettings:
    enabled: bool = False
    token: str = ""
    max_per_minute: int = 20


@dataclass
class Delivered:
    account: str
    payload: dict[str, Any]


@dataclass
class ChatChannel:
    delivered: list[Delivered] = field(default_factory=list)
    name: str = NAME
    pushes: bool = True

    async def send(self, user_id: str, payload: dict[str, Any]) -> None:
        if payload.get("type") not in ("text", "card", "card_update", "image", "choices"):
            raise DeliveryError(f"unknown payload {payload.get('type')!r}", retryable=False)
        self.delivered.append(Delivered(await identities.address(NAME, user_id), payload))


class ChatPlugin:
    name = NAME
    label = "测试聊天"
    section = NAME
    settings_type = ChatSettings

    def __init__(self) -> None:
        self.channel = ChatChannel()

    def check(self, settings: ChatSettings) -> list[str]:
        return [] if settings.token else ["chat.token: 启用时必填"]

    def build(self, context: ChannelContext) -> ChannelRuntime:
        return ChannelRuntime(channel=self.channel)

    def serve(self, app: web.Application) -> None:
        async def receive(request: web.Request) -> web.Response:
            body = await request.json()
            common = {"channel": NAME, "user_id": body["from"],
                      "dedupe_key": str(body.get("id") or uuid.uuid4().hex)}
            if "card" in body:
                incoming = Incoming(kind="tap", card_key=body["card"], action=body["action"],
                                    **common)
            else:
                incoming = Incoming(kind="text", text=body["text"], **common)
            result = await app[keys.DISPATCHER].receive(incoming)
            return web.json_response({"processed": bool(result and result.processed)})
        app.router.add_post("/chat/messages", receive)

    # ---- for tests -----------------------------------------------------------------------
    def to(self, account: str) -> list[dict[str, Any]]:
        return [d.payload for d in self.channel.delivered if d.account == account]

    def texts(self, account: str) -> list[str]:
        return [p["text"] for p in self.to(account) if p["type"] == "text"]

    def cards(self, account: str) -> list[dict[str, Any]]:
        return [p for p in self.to(account) if p["type"] == "card"]


@contextmanager
def chat_installed() -> Iterator[ChatPlugin]:
    plugin = ChatPlugin()
    channels.install(plugin)
    try:
        yield plugin
    finally:
        channels.uninstall(NAME)
