"""Property-based fuzzing of the WeCom callback (Hypothesis): whatever the query, the envelope or
the decrypted XML — correctly signed and encrypted or not — the answer is a 4xx or a 200, never
a 5xx; an event that is stored has its turn run (never left failed or waiting); and a genuine
message from the same user still gets its answer afterwards. Slow and oversized clients are cut
off (408, 413)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.wecom.callback import CALLBACK
from storage.models import InboundEvent
from tests.bot.channels.wecom.conftest import AGENT_ID, CORP_ID, Bot
from tests.bot.channels.wecom.test_callback_input import crypto
from tests.fakes import wecom_xml

PATH = "/wecom/callback"
FUZZ = settings(deadline=None, derandomize=True, max_examples=60,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

#: any text, including control characters, surrogates escaped, CJK, emoji and markup
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=80)
TRICKY = st.sampled_from([
    "", " ", "\x00", "<", "]]>", "<![CDATA[", "&amp;", "&#0;", "%00", "../", "0" * 600,
    "1" * 20, "-1", "1e309", "NaN", "中文", "😀", "\u202e", "A" * 43, "=", "+/",
])
TEXT = st.one_of(ANY_TEXT, TRICKY)
QUERY_NAMES = st.sampled_from(["msg_signature", "timestamp", "nonce", "echostr", "x",
                               "msg_signature[]", ""])


def answered_well(status: int) -> bool:
    return status == 200 or 400 <= status < 500


async def stored_turns_ran(bot: Bot) -> None:
    await bot.settle()
    assert not await InboundEvent.filter(status="received").exists()
    assert not await InboundEvent.filter(attempts__gt=0).exists()


@FUZZ
@given(query=st.dictionaries(QUERY_NAMES, TEXT, max_size=5), body=st.binary(max_size=200))
async def test_any_query_is_refused_without_a_server_error(
        bot: Bot, query: dict[str, str], body: bytes) -> None:
    url = f"{PATH}?{urlencode(query)}"
    posted = await bot.client.post(url, data=body)
    assert answered_well(posted.status), (query, posted.status)
    fetched = await bot.client.get(url)
    assert answered_well(fetched.status), (query, fetched.status)
    assert await InboundEvent.all().count() == 0


ELEMENTS = st.sampled_from(["ToUserName", "Encrypt", "AgentID", "MsgType", "xml", "Encrypt "])


@FUZZ
@given(parts=st.lists(st.tuples(ELEMENTS, TEXT, st.booleans()), max_size=5),
       prolog=st.sampled_from(["", '<?xml version="1.0"?>', "<!DOCTYPE xml>", "\ufeff", " "]),
       closed=st.booleans())
async def test_any_envelope_signed_for_its_encrypt_is_refused_or_answered(
        bot: Bot, parts: list[tuple[str, str, bool]], prolog: str, closed: bool) -> None:
    inner = "".join(f"<{name}>{wecom_xml.cdata(value) if as_cdata else value}</{name}>"
                    for name, value, as_cdata in parts)
    body = f"{prolog}<xml>{inner}{'</xml>' if closed else ''}".encode()
    encrypt = next((value for name, value, _ in parts if name == "Encrypt"), "")
    timestamp = str(bot.wecom.now())
    signature = crypto().sign(timestamp, "42", encrypt)
    url = f"{PATH}?{urlencode({'msg_signature': signature, 'timestamp': timestamp, 'nonce': '42'})}"
    response = await bot.client.post(url, data=body)
    assert answered_well(response.status), (body, response.status)
    await stored_turns_ran(bot)


MSG_TYPES = st.sampled_from(["text", "image", "event", "voice", "video", "location", "link",
                             "file", "template_card_event", "", "TEXT", "未知"])
EVENTS = st.sampled_from(["enter_agent", "click", "template_card_event", "subscribe",
                          "unsubscribe", "view", "inactive_alert", "", "未知事件"])
USERS = st.sampled_from(["zhang_t", "li_dean", "nobody_known", "", "x" * 300, "张三"])
FIELDS = st.dictionaries(
    st.sampled_from(["Content", "MsgId", "PicUrl", "MediaId", "Event", "EventKey", "TaskId",
                     "CardType", "ResponseCode", "SelectedItems", "CreateTime", "AgentID",
                     "FromUserName", "ToUserName", "Unknown"]),
    st.one_of(TEXT, st.integers(min_value=-2**63, max_value=2**64).map(str)), max_size=6)


@FUZZ
@given(user=USERS, msg_type=MSG_TYPES, event=EVENTS, fields=FIELDS,
       create_time=st.one_of(st.integers(min_value=-1, max_value=2**40), TEXT))
async def test_any_decrypted_message_is_answered_and_its_turn_runs(
        bot: Bot, user: str, msg_type: str, event: str, fields: dict[str, str],
        create_time: int | str) -> None:
    if msg_type == "event":
        fields = {"Event": event, **fields}
    xml = "<xml>" + "".join(
        f"<{name}>{wecom_xml.cdata(str(value))}</{name}>" for name, value in {
            "ToUserName": CORP_ID, "FromUserName": user, "CreateTime": create_time,
            "MsgType": msg_type, "AgentID": str(AGENT_ID), **fields}.items()) + "</xml>"
    query, body = bot.wecom.signed(xml)
    response = await bot.client.post(f"{PATH}?{query}", data=body)
    assert answered_well(response.status), (xml, response.status)
    await stored_turns_ran(bot)
    bot.clock.advance(timedelta(minutes=1))                # past WeCom's per-member limit
    replies = await bot.say("zhang_t", "帮助")              # the bot still answers
    assert replies and "我可以帮您" in replies[0]


async def test_a_client_sending_its_body_slowly_is_cut_off(bot: Bot) -> None:
    bot.app[CALLBACK].body_seconds = 0.5             # (10 s in service)
    query, body = bot.wecom.signed(bot.wecom.text_xml("zhang_t", "你好"))
    host, port = bot.client.host, bot.client.port
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"POST {PATH}?{query} HTTP/1.1\r\nHost: {host}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:20])
    await writer.drain()                               # … and the rest never comes
    status_line = await asyncio.wait_for(reader.readline(), 60)
    writer.close()
    assert status_line.split()[1] == b"408"
    assert await InboundEvent.all().count() == 0


async def test_a_body_over_the_limit_is_refused_before_it_is_read(bot: Bot) -> None:
    query, _ = bot.wecom.signed(bot.wecom.text_xml("zhang_t", "你好"))
    reader, writer = await asyncio.open_connection(bot.client.host, bot.client.port)
    writer.write(f"POST {PATH}?{query} HTTP/1.1\r\nHost: x\r\n"
                 f"Content-Length: {50 * 1024 * 1024}\r\n\r\n".encode())
    await writer.drain()                               # 50 MB announced, none sent
    status_line = await asyncio.wait_for(reader.readline(), 60)
    writer.close()
    assert status_line.split()[1] == b"413"

