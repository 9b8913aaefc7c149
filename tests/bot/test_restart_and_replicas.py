"""The database is the source of truth: a restarted server, or a second server on the same
database, continues every dialog at the same question."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.clock import FixedClock
from bot.config import Settings
from tests.conftest import Sim, render, wipe_database
from tests.processes import processes


async def test_a_restart_continues_the_dialog_at_the_same_question(
        settings: Settings, clock: FixedClock, database_url: str) -> None:
    await wipe_database(database_url)
    async with TestClient(TestServer(create_app(settings, clock=clock,
                                                background=False))) as first:
        sim = Sim(first, clock)
        await sim.say("zhang_t", "我要请假")
        await sim.say("zhang_t", "病假")
    # the first server is gone; a new one starts on the same database
    async with TestClient(TestServer(create_app(settings, clock=clock,
                                                background=False))) as second:
        sim = Sim(second, clock)
        resumed = await sim.text("zhang_t", "继续")
        assert "开始日期" in resumed
        answered = await sim.text("zhang_t", "明天")
        assert "请假天数" in answered


@pytest.fixture
async def two_servers(database_url: str) -> AsyncIterator[list[str]]:
    """Two real `campusbot serve` processes on one database."""
    await wipe_database(database_url)
    with processes(database_url) as started:
        yield [await started.serve(), await started.serve()]


async def _say(session: aiohttp.ClientSession, url: str, user: str, text: str) -> str:
    async with session.post(f"{url}/sim/api/messages", json={"user": user, "text": text}) as r:
        assert r.status == 200
        return render((await r.json())["replies"])


async def test_two_servers_on_one_database_share_a_dialog(two_servers: list[str]) -> None:
    a, b = two_servers
    async with aiohttp.ClientSession() as session:
        assert "请假类型" in await _say(session, a, "zhang_t", "我要请假")
        assert "开始日期" in await _say(session, b, "zhang_t", "病假")
        assert "请假天数" in await _say(session, a, "zhang_t", "明天")
        await _say(session, b, "zhang_t", "2")
        await _say(session, a, "zhang_t", "发烧就医，需在家休息")
        await _say(session, b, "zhang_t", "无")
        await _say(session, a, "zhang_t", "否")
        summary = await _say(session, b, "zhang_t", "13800000000")
        assert "请假类型：病假" in summary and "请假天数：2天" in summary
        assert "已提交" in await _say(session, a, "zhang_t", "确认")
        # the department head sees the card on the other server
        async with session.get(f"{b}/sim/api/inbox", params={"user": "li_dean"}) as r:
            cards = [m for m in (await r.json())["replies"] if m["type"] == "card"]
        assert cards and cards[0]["title"] == "张老师的教职工请销假审批"


async def test_two_servers_receiving_the_same_message_act_once(two_servers: list[str]) -> None:
    body = {"user": "zhang_t", "text": "我要请假", "id": "wecom-msg-77"}
    async with aiohttp.ClientSession() as session:
        responses = await asyncio.gather(*(
            session.post(f"{url}/sim/api/messages", json=body) for url in two_servers * 2))
        answers = [await r.json() for r in responses]
    assert sum(1 for a in answers if a["replies"]) == 1
