"""HTTP mode (`mode = "http"`): DingTalk posts robot messages to /dingtalk/callback with the
`timestamp` and `sign` headers; bad, stale or malformed requests get a 4xx and change nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import keys
from bot.app import create_app
from bot.channels.dingtalk.signing import sign
from bot.clock import FixedClock
from bot.config import Settings
from storage.models import InboundEvent
from tests.bot.channels.dingtalk.conftest import CLIENT_SECRET, dingtalk_section
from tests.conftest import wipe_database
from tests.fakes.dingtalk import FakeDingtalk


def test_the_signature_matches_dingtalk_s_published_inputs() -> None:
    # the inputs of DingTalk's Java sample; the output computed with openssl (the docs give
    # none): printf '1577262236757\nthis is a secret' | openssl dgst -sha256 -hmac … | base64
    assert sign("1577262236757", "this is a secret") == \
        "DJrE6qdyVGCQz9z5r2MDuNcNAhwYnuAkyj13cx169CA="


@pytest.fixture
async def http_bot(settings_factory: Callable[..., Settings], fake_dingtalk: FakeDingtalk,
                   clock: FixedClock, database_url: str) -> AsyncIterator[Any]:
    await wipe_database(database_url)
    settings = settings_factory(dingtalk=dingtalk_section(fake_dingtalk.url, mode="http"),
                                simulator={"enabled": False}, directory={"allow_demo": True})
    app = create_app(settings, clock=clock, background=False)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def now_ms(clock: FixedClock) -> int:
    return int(clock.now().timestamp() * 1000)


async def post(client: TestClient, body: Any, timestamp: int, signature: str | None = None,
               ) -> int:
    headers = {"timestamp": str(timestamp),
               "sign": signature if signature is not None else sign(str(timestamp),
                                                                    CLIENT_SECRET),
               "Content-Type": "application/json"}
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    response = await client.post("/dingtalk/callback", data=data, headers=headers)
    return response.status


async def test_a_signed_message_is_answered_through_the_api(
        http_bot: TestClient, fake_dingtalk: FakeDingtalk, clock: FixedClock) -> None:
    message = fake_dingtalk.robot_message("zhang_t", "我要请假")
    assert await post(http_bot, message, now_ms(clock)) == 200
    assert await post(http_bot, message, now_ms(clock)) == 200     # a retry: dropped
    app = http_bot.server.app
    await app[keys.DISPATCHER].intake.idle()
    while await app[keys.SENDER].deliver_due():
        pass
    assert await InboundEvent.filter(channel="dingtalk").count() == 1
    assert sum("开始办理" in t for t in fake_dingtalk.texts("zhang_t")) == 1
    # no Stream connection in HTTP mode
    assert fake_dingtalk.count("/v1.0/gateway/connections/open") == 0


@pytest.mark.parametrize(("case", "status"), [
    ("bad signature", 403), ("signed with another secret", 403), ("stale", 403),
    ("from the future", 403), ("no timestamp", 400), ("not JSON", 400),
    ("not a robot message", 400), ("too large", 413)])
async def test_bad_requests_get_a_4xx_and_change_nothing(
        http_bot: TestClient, fake_dingtalk: FakeDingtalk, clock: FixedClock,
        case: str, status: int) -> None:
    message = fake_dingtalk.robot_message("zhang_t", "我要请假")
    now = now_ms(clock)
    hour = 3600 * 1000
    match case:
        case "bad signature":
            got = await post(http_bot, message, now, signature="A" * 43 + "=")
        case "signed with another secret":
            got = await post(http_bot, message, now, signature=sign(str(now), "other"))
        case "stale":
            got = await post(http_bot, message, now - hour - 1000)
        case "from the future":
            got = await post(http_bot, message, now + hour + 1000)
        case "no timestamp":
            response = await http_bot.post("/dingtalk/callback", json=message,
                                           headers={"sign": sign(str(now), CLIENT_SECRET)})
            got = response.status
        case "not JSON":
            got = await post(http_bot, b"<xml>hello</xml>", now)
        case "too large":
            got = await post(http_bot, {**message, "text": {"content": "长" * 30_000}}, now)
        case _:
            got = await post(http_bot, {"msgtype": "text", "text": {"content": "x"}}, now)
    assert got == status
    assert await InboundEvent.filter(channel="dingtalk").count() == 0


async def test_a_signature_within_the_hour_is_accepted(
        http_bot: TestClient, fake_dingtalk: FakeDingtalk, clock: FixedClock) -> None:
    message = fake_dingtalk.robot_message("zhang_t", "你好")
    assert await post(http_bot, message, now_ms(clock) - 3500 * 1000) == 200


async def test_in_http_mode_approvers_get_text_commands_not_template_cards(
        http_bot: TestClient, fake_dingtalk: FakeDingtalk, clock: FixedClock) -> None:
    # card buttons call back only over a Stream connection, which HTTP mode does not hold
    app = http_bot.server.app
    for answer in ("我要请假", "病假", "明天", "2", "发烧就医，需在家休息", "无", "否",
                   "13800000000", "确认"):
        message = fake_dingtalk.robot_message("zhang_t", answer)
        assert await post(http_bot, message, now_ms(clock)) == 200
        await app[keys.DISPATCHER].intake.idle()
        while await app[keys.SENDER].deliver_due():
            pass
    assert fake_dingtalk.cards == {}
    [card] = [d for d in fake_dingtalk.to("li_dean") if d.msg_key.startswith("sampleActionCard")]
    assert unquote(card.param["actionURL1"]).endswith("content=同意 1")
