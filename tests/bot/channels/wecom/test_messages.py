"""Decrypted callback XML → Incoming, and the keys that make redeliveries harmless."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.channels.wecom.messages import (
    MessageError,
    parse_envelope,
    parse_message,
    to_incoming,
)
from flows.answers import Attachment
from tests.fakes import wecom_xml

CORP, AGENT = "wwcorp", 1000002


def msg(msg_type: str, msg_id: int = 101, **fields: str | int) -> str:
    return wecom_xml.message(CORP, AGENT, "zhang_t", 1795000000, msg_type, msg_id, **fields)


def event(name: str, user: str = "li_dean", create_time: int = 1795000000,
          **fields: str | int) -> str:
    return wecom_xml.event(CORP, AGENT, user, create_time, name, **fields)


def test_text_becomes_a_text_keyed_by_msgid() -> None:
    incoming = to_incoming(parse_message(msg("text", 4561255354251345929, Content="我要请假")))
    assert incoming is not None
    assert (incoming.channel, incoming.user_id, incoming.kind, incoming.text) == (
        "wecom", "zhang_t", "text", "我要请假")
    assert incoming.dedupe_key == "msg:4561255354251345929"


def test_image_is_a_file_that_can_answer_an_attachment_question() -> None:
    incoming = to_incoming(parse_message(msg("image", PicUrl="https://p/1", MediaId="m1")))
    assert incoming is not None and incoming.kind == "file"
    assert incoming.attachment == Attachment(name="图片", media_id="m1", url="https://p/1")


@pytest.mark.parametrize(("msg_type", "fields"), [
    ("voice", {"MediaId": "v1", "Format": "amr"}),
    ("video", {"MediaId": "v1", "ThumbMediaId": "t1"}),
    ("location", {"Location_X": "23.1", "Location_Y": "113.3", "Scale": 20, "Label": "图书馆"}),
    ("link", {"Title": "t", "Description": "d", "Url": "https://x", "PicUrl": "https://p"}),
])
def test_voice_video_location_and_link_are_unsupported(msg_type: str,
                                                       fields: dict[str, Any]) -> None:
    incoming = to_incoming(parse_message(msg(msg_type, **fields)))
    assert incoming is not None and incoming.kind == "unsupported"


def test_enter_agent_and_menu_clicks_are_neutral_events() -> None:
    entered = to_incoming(parse_message(event("enter_agent", EventKey="")))
    assert entered is not None and (entered.kind, entered.event) == ("event", "opened")
    clicked = to_incoming(parse_message(event("click", EventKey="menu_tasks")))
    assert clicked is not None and (clicked.kind, clicked.event) == ("event", "menu_tasks")


def test_only_the_roots_own_children_are_read_and_escapes_are_decoded() -> None:
    xml = ("<xml><ToUserName><![CDATA[wwcorp]]></ToUserName>"
           "<FromUserName><![CDATA[zhang_t]]></FromUserName><CreateTime>1795000000</CreateTime>"
           "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>"
           "<SelectedItems><SelectedItem><TaskId>inner</TaskId></SelectedItem></SelectedItems>"
           "<TaskId><![CDATA[a7-x]]></TaskId><EventKey>approve</EventKey>"
           "<Content>R&amp;D <![CDATA[<b>]]></Content></xml>")
    message = parse_message(xml)
    assert (message.task_id, message.event_key) == ("a7-x", "approve")
    assert message.content == "R&D <b>"


def test_template_card_event_is_parsed_without_wechatpy() -> None:
    xml = event("template_card_event", EventKey="approve", TaskId="a12-0f3c9e",
                CardType="button_interaction", ResponseCode="rc-fresh")
    message = parse_message(xml)
    assert message.is_card_tap
    assert (message.task_id, message.event_key, message.response_code) == (
        "a12-0f3c9e", "approve", "rc-fresh")
    incoming = to_incoming(message)
    assert incoming is not None
    assert (incoming.kind, incoming.card_key, incoming.action) == ("tap", "a12-0f3c9e",
                                                                   "approve")


def test_event_keys_separate_taps_on_two_cards_in_the_same_second() -> None:
    first = parse_message(event("template_card_event", EventKey="approve", TaskId="a1-x",
                                ResponseCode="r1"))
    second = parse_message(event("template_card_event", EventKey="approve", TaskId="a2-y",
                                 ResponseCode="r2"))
    again = parse_message(event("template_card_event", EventKey="approve", TaskId="a1-x",
                                ResponseCode="r3"))
    assert first.dedupe_key() != second.dedupe_key()
    assert first.dedupe_key() == again.dedupe_key()   # a redelivery of the same tap


def test_very_long_keys_are_hashed_not_cut() -> None:
    one = parse_message(event("click", EventKey="k" * 300 + "1"))
    two = parse_message(event("click", EventKey="k" * 300 + "2"))
    assert len(one.dedupe_key()) <= 255
    assert one.dedupe_key() != two.dedupe_key()


def test_events_campusbot_ignores_and_inactivity_warnings(
        caplog: pytest.LogCaptureFixture) -> None:
    for name in ("subscribe", "unsubscribe", "LOCATION", "view", "template_card_menu_event"):
        assert to_incoming(parse_message(event(name, EventKey="x"))) is None
    with caplog.at_level(logging.WARNING, logger="campusbot.wecom"):
        assert to_incoming(parse_message(event("inactive_alert", user="sys"))) is None
    assert "inactive_alert" in caplog.text
    assert to_incoming(parse_message(msg("unknown_kind"))) is None


@pytest.mark.parametrize("body", [
    "not xml at all",
    "<xml><MsgType>text</MsgType></xml>",                                  # no sender
    "<xml><FromUserName>u</FromUserName><MsgType>text</MsgType>"
    "<CreateTime>1</CreateTime></xml>",                                    # text without MsgId
    "<xml><FromUserName>u</FromUserName><MsgType>text</MsgType>"
    "<CreateTime>soon</CreateTime><MsgId>1</MsgId></xml>",                 # time not a number
    '<!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><FromUserName>&a;</FromUserName></xml>',
    '<!DOCTYPE xml SYSTEM "http://evil/x.dtd"><xml/>',
    "<root><FromUserName>u</FromUserName></root>",
    "<xml><FromUserName>u</FromUserName><MsgType>text</MsgType>",           # cut short
    "<xml><FromUserName>&undefined;</FromUserName></xml>",                 # unknown entity
])
def test_malformed_messages_are_refused(body: str) -> None:
    with pytest.raises(MessageError):
        parse_message(body)


def test_envelope_needs_an_encrypt_element_and_no_dtd() -> None:
    assert parse_envelope(wecom_xml.envelope(CORP, AGENT, "abc")).encrypt == "abc"
    for body in (b"<xml><ToUserName>x</ToUserName></xml>", b"<xml", b"",
                 b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml>'
                 b"<Encrypt>&e;</Encrypt></xml>"):
        with pytest.raises(MessageError):
            parse_envelope(body)
