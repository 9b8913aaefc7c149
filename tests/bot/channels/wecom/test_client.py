"""The asyncio WeCom client: one access token shared by every replica through the database,
refreshed early, refreshed once (never in a loop) when WeCom rejects it, and never leaked."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import aiohttp
import pytest

from bot import keys
from bot.channels.wecom.client import WecomClient, dumps
from bot.channels.wecom.errors import WecomApiError, WecomTransportError, redact
from bot.clock import FixedClock
from storage.models import ApiToken
from tests.bot.channels.wecom.conftest import SECRET, Bot
from tests.fakes.wecom import FakeWecom

TEXT = {"touser": "zhang_t", "msgtype": "text", "agentid": 1000002,
        "text": {"content": "您好，这是一条中文消息"}}


def replica(bot: Bot) -> WecomClient:
    """A second client, as another server process on the same database would have."""
    return WecomClient(bot.app[keys.SETTINGS].wecom, bot.clock, timeout=5)


async def test_the_token_is_fetched_once_and_shared_by_replicas(bot: Bot) -> None:
    first, second = bot.channel.client, replica(bot)
    try:
        await first.post("message/send", TEXT)
        await second.post("message/send", TEXT)
        assert bot.fake.count("gettoken") == 1
        row = await ApiToken.get(key=first.tokens.key)
        assert row.token in bot.fake.tokens
    finally:
        await second.close()


async def test_concurrent_calls_on_a_cold_cache_fetch_one_token(bot: Bot) -> None:
    clients = [bot.channel.client, replica(bot), replica(bot)]
    try:
        await asyncio.gather(*(c.post("message/send", TEXT) for c in clients for _ in range(5)))
    finally:
        for client in clients[1:]:
            await client.close()
    assert bot.fake.count("gettoken") == 1
    assert len(bot.fake.texts("zhang_t")) == 15


async def test_the_token_is_refreshed_before_it_expires(bot: Bot) -> None:
    client = bot.channel.client
    await client.post("message/send", TEXT)
    bot.clock.advance(timedelta(seconds=7200 - 600))      # 10 minutes left: still used
    await client.post("message/send", TEXT)
    assert bot.fake.count("gettoken") == 1
    bot.clock.advance(timedelta(seconds=301))             # under 5 minutes left: refreshed
    await client.post("message/send", TEXT)
    assert bot.fake.count("gettoken") == 2
    assert [code for path, code in bot.fake.calls if path == "message/send"] == [0, 0, 0]


async def test_a_token_expiring_mid_run_is_refreshed_once_and_the_call_retried(
        bot: Bot) -> None:
    client = bot.channel.client
    await client.post("message/send", TEXT)
    bot.fake.expire_tokens()                               # WeCom revoked it early
    await client.post("message/send", TEXT)
    assert [code for path, code in bot.fake.calls if path == "message/send"] == [0, 42001, 0]
    assert bot.fake.count("gettoken") == 2
    assert len(bot.fake.texts("zhang_t")) == 2
    # a replica holding the revoked token in memory is told by WeCom too, and recovers
    bot.fake.fault("message/send", errcode=40014)
    await client.post("message/send", TEXT)
    assert len(bot.fake.texts("zhang_t")) == 3


async def test_a_token_error_that_persists_is_not_retried_in_a_loop(bot: Bot) -> None:
    bot.fake.fault("message/send", errcode=42001, times=10)
    with pytest.raises(WecomApiError) as raised:
        await bot.channel.client.post("message/send", TEXT)
    assert raised.value.errcode == 42001 and raised.value.retryable
    assert bot.fake.count("message/send") == 2            # the call and one retry
    assert bot.fake.count("gettoken") == 2                # the first token and one refresh


async def test_a_wrong_secret_fails_clearly_without_leaking_it(
        bot: Bot, fake_wecom: FakeWecom, clock: FixedClock) -> None:
    wrong = WecomClient(replace(bot.app[keys.SETTINGS].wecom, secret="not-the-secret"), clock)
    try:
        with pytest.raises(WecomApiError) as raised:
            await wrong.post("message/send", TEXT)
    finally:
        await wrong.close()
    assert raised.value.errcode == 40001
    assert "not-the-secret" not in str(raised.value) and SECRET not in str(raised.value)
    assert fake_wecom.count("gettoken") == 1


async def test_transport_failures_name_no_token(bot: Bot) -> None:
    client = bot.channel.client
    await client.post("message/send", TEXT)
    token = await client.tokens.get()
    bot.fake.fault("message/send", http_status=502)
    with pytest.raises(WecomTransportError) as raised:
        await client.post("message/send", TEXT)
    assert "502" in str(raised.value) and token not in str(raised.value)
    bot.fake.fault("message/send", hang=True)
    client.timeout = aiohttp.ClientTimeout(total=0.05)
    with pytest.raises(WecomTransportError) as timed_out:
        await client.post("message/send", TEXT)
    assert token not in str(timed_out.value)
    assert redact(f"https://x/cgi-bin/a?access_token={token}&b=1") == (
        "https://x/cgi-bin/a?access_token=***&b=1")
    assert redact("gettoken?corpid=c&corpsecret=s3cret") == "gettoken?corpid=c&corpsecret=***"


async def test_json_is_utf8_without_unicode_escapes(bot: Bot) -> None:
    assert dumps({"content": "请假"}) == '{"content":"请假"}'.encode()
    await bot.channel.client.post("message/send", TEXT)   # the fake refuses \\u escapes (40033)
    assert bot.fake.texts("zhang_t") == ["您好，这是一条中文消息"]
