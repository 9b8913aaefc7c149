"""A campusbot server with the DingTalk channel on, connected over Stream mode to a fake
DingTalk on 127.0.0.1 (HTTP and websocket)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import keys
from bot.app import create_app
from bot.channels.dingtalk.setup import INBOUND
from bot.channels.dingtalk.stream import StreamClient
from bot.clock import Clock, FixedClock
from bot.config import Settings
from bot.sender import OutboxSender
from storage.models import ApprovalTask, ChannelCard
from tests.conftest import wipe_database
from tests.fakes.dingtalk import Connection, FakeCard, FakeDingtalk

CLIENT_ID = "dingcampus0000001"
CLIENT_SECRET = "dingtalk-app-secret-for-tests"
ROBOT_CODE = "dingcampus0000001"
TEMPLATE_ID = "7f1a2c3d-approval.schema"


def dingtalk_section(api_base: str, **extra: Any) -> dict[str, Any]:
    return {"enabled": True, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "robot_code": ROBOT_CODE, "card_template_id": TEMPLATE_ID, "api_base": api_base,
            "oapi_base": api_base, "watchdog_seconds": 1, **extra}


@asynccontextmanager
async def serving_fake_dingtalk(clock: Clock) -> AsyncIterator[FakeDingtalk]:
    fake = FakeDingtalk(clock, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                        robot_code=ROBOT_CODE, template_id=TEMPLATE_ID)
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        for connection in fake.connections:
            connection.stalled = False
        await server.close()


@pytest.fixture
async def fake_dingtalk(clock: FixedClock) -> AsyncIterator[FakeDingtalk]:
    async with serving_fake_dingtalk(clock) as fake:
        yield fake


@pytest.fixture
def dingtalk_settings(settings_factory: Callable[..., Settings],
                      fake_dingtalk: FakeDingtalk) -> Settings:
    return settings_factory(dingtalk=dingtalk_section(fake_dingtalk.url),
                            simulator={"enabled": False}, directory={"allow_demo": True})


async def card_row(out_track_id: str) -> ChannelCard:
    return await ChannelCard.get(channel="dingtalk", external_id=out_track_id)


async def task_of(out_track_id: str) -> ApprovalTask:
    return await ApprovalTask.get(card_key=(await card_row(out_track_id)).card_key)


@dataclass
class Bot:
    """A running bot process, the fake DingTalk, and the hands that drive both."""

    app: web.Application
    client: TestClient
    fake: FakeDingtalk
    clock: FixedClock

    @property
    def sender(self) -> OutboxSender:
        return self.app[keys.SENDER]

    @property
    def stream(self) -> StreamClient:
        stream = self.app[INBOUND].stream
        assert stream is not None
        return stream

    async def connection(self) -> Connection:
        """The newest live socket at the fake (with one bot process: this one's)."""
        await self.stream.connected.wait()
        return (await self.fake.wait_connections(1))[-1]

    async def settle(self) -> None:
        await self.app[keys.DISPATCHER].intake.idle()
        while await self.sender.deliver_due():
            pass

    async def say(self, user: str, text: str, *, to: list[Connection] | None = None,
                  **ids: str) -> list[str]:
        """The user types `text` to the robot; what the bot sent them for it (texts)."""
        before = len(self.fake.texts(user))
        message_id = await self.fake.say(user, text, to=to or [await self.connection()], **ids)
        ack = await (to or [await self.connection()])[0].ack_of(message_id)
        assert ack is not None and ack["code"] == 200, ack
        await self.settle()
        return self.fake.texts(user)[before:]

    async def tap(self, card: FakeCard, user: str, action: str) -> dict[str, Any]:
        connection = await self.connection()
        message_id = await self.fake.tap(card.out_track_id, user, action, to=[connection])
        ack = await connection.ack_of(message_id)
        assert ack is not None, "no ack"
        await self.settle()
        return ack


async def start_bot(settings: Settings, clock: FixedClock, fake: FakeDingtalk) -> Bot:
    app = create_app(settings, clock=clock, background=False)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    bot = Bot(app, client, fake, clock)
    bot.stream.backoff_base = 0.05
    await bot.stream.connected.wait()
    return bot


@pytest.fixture
async def bot(dingtalk_settings: Settings, clock: FixedClock, database_url: str,
              fake_dingtalk: FakeDingtalk) -> AsyncIterator[Bot]:
    await wipe_database(database_url)
    running = await start_bot(dingtalk_settings, clock, fake_dingtalk)
    try:
        yield running
    finally:
        await running.client.close()
