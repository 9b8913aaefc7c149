"""Everything that is not a genuine WeCom callback gets a 4xx with an empty body — never a
5xx, never a stack trace — and stores nothing."""

from __future__ import annotations

import random
from urllib.parse import parse_qs, urlencode

import pytest

from bot.channels.wecom.crypto import WecomCrypto
from storage.models import InboundEvent
from tests.bot.channels.wecom.conftest import AES_KEY, CORP_ID, TOKEN, Bot
from tests.fakes import wecom_xml

PATH = "/wecom/callback"


def crypto(corp_id: str = CORP_ID) -> WecomCrypto:
    return WecomCrypto(TOKEN, AES_KEY, corp_id)


def signed_post(bot: Bot, body: bytes, encrypt: str, *, timestamp: int | None = None,
                token_crypto: WecomCrypto | None = None) -> str:
    ts = str(timestamp if timestamp is not None else bot.wecom.now())
    sig = (token_crypto or crypto()).sign(ts, "7788", encrypt)
    return f"{PATH}?{urlencode({'msg_signature': sig, 'timestamp': ts, 'nonce': '7788'})}"


async def post(bot: Bot, url: str, body: bytes) -> tuple[int, str]:
    response = await bot.client.post(url, data=body)
    return response.status, await response.text()


def envelope(encrypt: str) -> bytes:
    return wecom_xml.envelope(CORP_ID, 1000002, encrypt)


async def assert_refused(bot: Bot, url: str, body: bytes, status: int) -> None:
    got, text = await post(bot, url, body)
    assert (got, text) == (status, "")
    assert await InboundEvent.all().count() == 0


async def test_a_genuine_callback_is_stored_and_answered_with_an_empty_200(bot: Bot) -> None:
    query, body = bot.wecom.signed(bot.wecom.text_xml("zhang_t", "你好"))
    status, text = await post(bot, f"{PATH}?{query}", body)
    assert (status, text) == (200, "")
    assert await InboundEvent.all().count() == 1


async def test_wrong_signature(bot: Bot) -> None:
    query, body = bot.wecom.signed(bot.wecom.text_xml("zhang_t", "你好"))
    params = {k: v[0] for k, v in parse_qs(query).items()}
    params["msg_signature"] = "0" * 40
    await assert_refused(bot, f"{PATH}?{urlencode(params)}", body, 403)
    other_token = WecomCrypto("someOtherToken", AES_KEY, CORP_ID)
    encrypt = crypto().encrypt(bot.wecom.text_xml("zhang_t", "你好"))
    await assert_refused(bot, signed_post(bot, envelope(encrypt), encrypt,
                                          token_crypto=other_token), envelope(encrypt), 403)


async def test_encrypted_for_another_corp(bot: Bot) -> None:
    encrypt = crypto("wwsomeoneelse").encrypt(bot.wecom.text_xml("zhang_t", "你好"))
    await assert_refused(bot, signed_post(bot, envelope(encrypt), encrypt), envelope(encrypt),
                         403)


async def test_stale_or_future_timestamps(bot: Bot) -> None:
    encrypt = crypto().encrypt(bot.wecom.text_xml("zhang_t", "你好"))
    for skew in (-2 * 86400, 2 * 86400):
        url = signed_post(bot, envelope(encrypt), encrypt, timestamp=bot.wecom.now() + skew)
        await assert_refused(bot, url, envelope(encrypt), 403)


@pytest.mark.parametrize("query", [
    "", "msg_signature=abc&timestamp=1&nonce=", "msg_signature=abc&timestamp=x&nonce=1",
    "timestamp=1&nonce=1", f"msg_signature={'a' * 600}&timestamp=1&nonce=1",
])
async def test_missing_or_malformed_query(bot: Bot, query: str) -> None:
    await assert_refused(bot, f"{PATH}?{query}", envelope("abc"), 400)


async def test_malformed_bodies(bot: Bot) -> None:
    for body in (b"", b"not xml", b"<xml><Encrypt>", b"<xml><ToUserName>x</ToUserName></xml>"):
        await assert_refused(bot, signed_post(bot, body, "x"), body, 400)
    body = "<xml><Encrypt>中文</Encrypt></xml>".encode()       # signed, but not base64
    await assert_refused(bot, signed_post(bot, body, "中文"), body, 400)


async def test_dtd_and_entity_bodies(bot: Bot) -> None:
    bombs = [
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
        b'"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><xml><Encrypt>&lol2;</Encrypt></xml>',
        b'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<xml><Encrypt>&xxe;</Encrypt></xml>",
        b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/evil.dtd"><xml><Encrypt>a</Encrypt></xml>',
    ]
    for body in bombs:
        await assert_refused(bot, signed_post(bot, body, "a"), body, 400)
    # a DTD inside the encrypted message is refused as well
    inner = '<!DOCTYPE xml [<!ENTITY a "x">]><xml><FromUserName>&a;</FromUserName></xml>'
    encrypt = crypto().encrypt(inner)
    await assert_refused(bot, signed_post(bot, envelope(encrypt), encrypt), envelope(encrypt),
                         400)


async def test_correctly_signed_but_undecryptable_or_malformed_inside(bot: Bot) -> None:
    for encrypt in ("bm90IGEgYmxvY2s=", "%%%notbase64%%%", "A" * 64):
        await assert_refused(bot, signed_post(bot, envelope(encrypt), encrypt),
                             envelope(encrypt), 400)
    for inner in ("plain words", "<xml><MsgType>text</MsgType></xml>",
                  "<xml><FromUserName>u</FromUserName><MsgType>text</MsgType>"
                  "<CreateTime>1</CreateTime></xml>"):
        encrypt = crypto().encrypt(inner)
        await assert_refused(bot, signed_post(bot, envelope(encrypt), encrypt),
                             envelope(encrypt), 400)


async def test_oversized_bodies(bot: Bot) -> None:
    huge = b"<xml><Encrypt>" + b"A" * 40_000 + b"</Encrypt></xml>"
    await assert_refused(bot, signed_post(bot, huge, "x"), huge, 413)

    async def chunks():  # no Content-Length: the limit still holds while reading
        for _ in range(40):
            yield b"A" * 1024
    response = await bot.client.post(signed_post(bot, b"", "x"), data=chunks())
    assert (response.status, await response.text()) == (413, "")


async def test_unknown_methods_and_paths(bot: Bot) -> None:
    response = await bot.client.put(PATH, data=b"x")
    assert response.status == 405
    response = await bot.client.get("/wecom/other")
    assert response.status == 404


async def test_fuzzed_bodies_never_cause_a_server_error(bot: Bot) -> None:
    seed = random.Random(20261126)
    genuine = crypto().encrypt(bot.wecom.text_xml("zhang_t", "我要请假"))
    for _ in range(150):
        encrypt = list(genuine)
        for _ in range(seed.randint(1, 4)):
            encrypt[seed.randrange(len(encrypt))] = seed.choice(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=<&]")
        mutated = "".join(encrypt)[:seed.randint(1, len(encrypt))]
        body = (envelope(mutated) if seed.random() < 0.7 else
                bytes(seed.randrange(256) for _ in range(seed.randint(0, 300))))
        status, text = await post(bot, signed_post(bot, body, mutated), body)
        assert 400 <= status < 500 or status == 200, status
        assert "Traceback" not in text and "Error" not in text


async def test_url_verification(bot: Bot) -> None:
    assert await bot.wecom.verify_url("1616140317555161061") == (200, "1616140317555161061")
    echostr = crypto().encrypt("5927217713")
    ts = str(bot.wecom.now())
    good = {"msg_signature": crypto().sign(ts, "1", echostr), "timestamp": ts, "nonce": "1",
            "echostr": echostr}
    response = await bot.client.get(f"{PATH}?{urlencode(good)}")
    assert (response.status, await response.text()) == (200, "5927217713")
    assert response.content_type == "text/plain"
    for change, status in (({"msg_signature": "0" * 40}, 403), ({"echostr": ""}, 400),
                           ({"timestamp": "1"}, 403)):
        response = await bot.client.get(f"{PATH}?{urlencode({**good, **change})}")
        assert (response.status, await response.text()) == (status, "")
    other = crypto("wwsomeoneelse").encrypt("1")
    foreign = {**good, "echostr": other, "msg_signature": crypto().sign(ts, "1", other)}
    response = await bot.client.get(f"{PATH}?{urlencode(foreign)}")
    assert (response.status, await response.text()) == (403, "")


async def test_a_message_for_another_agent_is_acknowledged_and_ignored(bot: Bot) -> None:
    xml = wecom_xml.message(CORP_ID, 999, "zhang_t", bot.wecom.now(), "text", 5, Content="x")
    delivery = await bot.wecom.deliver(xml)
    assert delivery.statuses == [200]
    assert await InboundEvent.all().count() == 0
