"""A campusbot server with the WeCom channel on, wired to a fake WeCom over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import keys
from bot.app import create_app
from bot.channels.wecom.channel import WecomChannel
from bot.clock import Clock, FixedClock
from bot.config import Settings
from bot.sender import OutboxSender
from storage.directory_file import read_directory_file
from storage.directory_snapshot import file_alone
from storage.models import ApprovalTask, ChannelCard
from tests.conftest import wipe_database
from tests.fakes.wecom import FakeWecom
from tests.fakes.wecom_callbacks import WecomCallbacks

CORP_ID = "wwcampus00000001"
AGENT_ID = 1000002
SECRET = "app-secret-for-tests"
TOKEN = "campusbotCallbackToken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def demo_members() -> dict[str, dict[str, Any]]:
    """Everyone in the demo directory, as WeCom members of one department."""
    people = file_alone(read_directory_file("demo")).everyone()
    return {p.id: {"userid": p.id, "name": p.name, "department": [1], "main_department": 1,
                   "position": p.title, "status": 1} for p in people}


async def card_row(task_id: str) -> ChannelCard:
    """What campusbot keeps about a card it sent to WeCom under `task_id`."""
    return await ChannelCard.get(channel="wecom", external_id=task_id)


async def task_of(task_id: str) -> ApprovalTask:
    """The approval task behind the WeCom card `task_id`."""
    return await ApprovalTask.get(card_key=(await card_row(task_id)).card_key)


def wecom_section(api_base: str) -> dict[str, Any]:
    return {"enabled": True, "corp_id": CORP_ID, "agent_id": AGENT_ID, "secret": SECRET,
            "token": TOKEN, "encoding_aes_key": AES_KEY, "api_base": api_base}


@asynccontextmanager
async def serving_fake_wecom(clock: Clock) -> AsyncIterator[FakeWecom]:
    """The fake WeCom on 127.0.0.1, its base URL in `.url`, with the demo directory's members."""
    fake = FakeWecom(clock, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET,
                     members=demo_members())
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    try:
        yield fake
    finally:
        fake.release()
        await server.close()


@pytest.fixture
async def fake_wecom(clock: FixedClock) -> AsyncIterator[FakeWecom]:
    async with serving_fake_wecom(clock) as fake:
        yield fake


@pytest.fixture
def wecom_settings(settings_factory: Callable[..., Settings], fake_wecom: FakeWecom) -> Settings:
    return settings_factory(wecom=wecom_section(fake_wecom.url),  # type: ignore[attr-defined]
                            simulator={"enabled": False}, directory={"allow_demo": True})


@dataclass
class Bot:
    """The running bot, the fake WeCom around it, and the hands that drive both."""

    app: web.Application
    client: TestClient
    wecom: WecomCallbacks
    fake: FakeWecom
    clock: FixedClock

    @property
    def sender(self) -> OutboxSender:
        return self.app[keys.SENDER]

    @property
    def channel(self) -> WecomChannel:
        channel = self.sender.channels["wecom"]
        assert isinstance(channel, WecomChannel)
        return channel

    def api_timeout(self, seconds: float) -> None:
        self.channel.client.timeout = aiohttp.ClientTimeout(total=seconds)

    async def turns_done(self) -> None:
        await self.app[keys.DISPATCHER].intake.idle()

    async def settle(self) -> None:
        """Let every accepted callback finish its turn, then deliver everything due now."""
        await self.turns_done()
        while await self.sender.deliver_due():
            pass

    async def say(self, user: str, text: str) -> list[str]:
        """The user types `text` in WeCom; returns what the bot sent them for it (texts, and
        cards as their title and sub title: a question with options is a card)."""
        before = len(self.fake.read(user))
        delivery = await self.wecom.text(user, text)
        assert delivery.accepted, delivery.statuses
        await self.settle()
        return self.fake.read(user)[before:]


async def start_bot(settings: Settings, clock: FixedClock, fake: FakeWecom) -> tuple[
        web.Application, TestClient]:
    app = create_app(settings, clock=clock, background=False)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return app, client


@pytest.fixture
async def bot(wecom_settings: Settings, clock: FixedClock, database_url: str,
              fake_wecom: FakeWecom) -> AsyncIterator[Bot]:
    await wipe_database(database_url)
    app, client = await start_bot(wecom_settings, clock, fake_wecom)
    callbacks = WecomCallbacks(fake_wecom, str(client.make_url("/wecom/callback")),
                               token=TOKEN, encoding_aes_key=AES_KEY)
    running = Bot(app, client, callbacks, fake_wecom, clock)
    running.api_timeout(5)
    try:
        yield running
    finally:
        fake_wecom.release()
        await callbacks.close()
        await client.close()
