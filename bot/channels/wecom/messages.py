"""Callback XML: the outer envelope, the decrypted message, and its neutral `Incoming` form.

The envelope is read by exact pattern, before authentication, without an XML parser. The
decrypted message is read by expat directly, keeping only the text of the root's children; a
DTD, an entity declaration or an external reference is refused before any expansion (what
defusedxml does, without building an element tree: that tree was half of the callback's CPU,
docs/benchmarks.md). wechatpy's parser returns `UnknownMessage` for template_card_event, so card
taps are read here field by field.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any, NoReturn
from xml.parsers import expat

from bot.channels.wecom import NAME
from flows.answers import Attachment
from flows.incoming import OPENED, Incoming, Kind

log = logging.getLogger("campusbot.wecom")

MAX_KEY = 255
_ENVELOPE = re.compile(rb"\s*(?:<\?xml[^>]*\?>\s*)?<xml>.*</xml>\s*", re.DOTALL)
_ENCRYPT = re.compile(rb"<Encrypt>\s*(?:<!\[CDATA\[([A-Za-z0-9+/=]+)\]\]>|([A-Za-z0-9+/=]+))"
                      rb"\s*</Encrypt>")
_TO_USER = re.compile(rb"<ToUserName>(?:<!\[CDATA\[)?([^<\]]*)")
_AGENT_ID = re.compile(rb"<AgentID>(?:<!\[CDATA\[)?([^<\]]*)")
UNSUPPORTED = frozenset({"voice", "video", "location", "link", "file", "shortvideo"})
#: WeCom warns before it disables an app nobody uses (e.g. over the summer vacation)
INACTIVITY_EVENTS = frozenset({"inactive_alert", "close_inactive_agent", "low_active_alert",
                               "low_active", "reopen_inactive_agent", "active_restored"})


class MessageError(ValueError):
    """The XML is malformed, carries a DTD or entities, or lacks a required element."""


@dataclass(frozen=True)
class Envelope:
    to_user: str
    agent_id: str
    encrypt: str


@dataclass(frozen=True)
class WecomMessage:
    """The fields of a decrypted callback message that campusbot uses (doc 90239/90240)."""

    msg_type: str
    from_user: str
    create_time: str
    agent_id: str = ""
    msg_id: str = ""
    content: str = ""
    media_id: str = ""
    pic_url: str = ""
    event: str = ""
    event_key: str = ""
    task_id: str = ""
    card_type: str = ""
    response_code: str = ""
    #: the options chosen on a vote or multiple-choice card (SelectedItems/…/OptionId)
    selected: tuple[str, ...] = ()

    @property
    def is_card_tap(self) -> bool:
        return self.msg_type == "event" and self.event == "template_card_event"

    def dedupe_key(self) -> str:
        """MsgId for messages; for events user + create time + event + task + key, because
        user + create time alone would merge two taps on different cards in one second."""
        if self.msg_id:
            key = f"msg:{self.msg_id}"
        else:
            key = ":".join(("evt", self.from_user, self.create_time, self.event, self.task_id,
                            self.event_key, *self.selected))
        if len(key) > MAX_KEY:  # keys of up to 1024 bytes must not be cut into collisions
            key = f"evt-sha256:{hashlib.sha256(key.encode()).hexdigest()}"
        return key


class _Refused(Exception):
    pass


def _refuse(*_: object) -> NoReturn:
    raise _Refused


def _children_text(body: str) -> tuple[dict[str, str], list[str]]:
    """The text of each child of the root `<xml>` (the first of each name), CDATA included,
    and the text of every `OptionId` below `SelectedItems` (a card's chosen options)."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    fields: dict[str, str] = {}
    options: list[str] = []
    parts: list[str] = []
    path: list[str] = []
    root: list[str] = []

    def start(name: str, _attributes: object) -> None:
        if not path:
            root.append(name)
        path.append(name)
        if len(path) == 2 or name == "OptionId":
            parts.clear()

    def end(name: str) -> None:
        if len(path) == 2 and name not in fields:
            fields[name] = "".join(parts).strip()
        elif name == "OptionId" and len(path) > 2 and path[1] == "SelectedItems":
            options.append("".join(parts).strip())
        path.pop()

    def text(data: str) -> None:
        if len(path) == 2 or (path and path[-1] == "OptionId"):
            parts.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(body, True)
    except (expat.ExpatError, _Refused, ValueError) as exc:
        raise MessageError(type(exc).__name__) from exc
    if root != ["xml"]:
        raise MessageError("the root element is not <xml>")
    return fields, options


def parse_envelope(body: bytes) -> Envelope:
    """The outer envelope, read without an XML parser: until the signature over `Encrypt` is
    checked the body is untrusted, and no parser (nor its entity expansion) should see it. Only
    the exact shape WeCom sends passes; a DTD or entity declaration never does."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise MessageError("DTD or entity declaration")
    if not _ENVELOPE.fullmatch(body) or body.count(b"<Encrypt>") != 1:
        raise MessageError("not a WeCom envelope")
    found = _ENCRYPT.search(body)
    if found is None:
        raise MessageError("no Encrypt element")
    encrypt = (found.group(1) or found.group(2)).decode("ascii")
    return Envelope(to_user=_plain(_TO_USER, body), agent_id=_plain(_AGENT_ID, body),
                    encrypt=encrypt)


def _plain(pattern: re.Pattern[bytes], body: bytes) -> str:
    found = pattern.search(body)
    return found.group(1).decode("utf-8", "replace").strip() if found else ""


def parse_message(plaintext: str) -> WecomMessage:
    fields, options = _children_text(plaintext)
    message = WecomMessage(
        msg_type=fields.get("MsgType", ""), from_user=fields.get("FromUserName", ""),
        create_time=fields.get("CreateTime", ""), agent_id=fields.get("AgentID", ""),
        msg_id=fields.get("MsgId", ""), content=fields.get("Content", ""),
        media_id=fields.get("MediaId", ""), pic_url=fields.get("PicUrl", ""),
        event=fields.get("Event", ""), event_key=fields.get("EventKey", ""),
        task_id=fields.get("TaskId", ""), card_type=fields.get("CardType", ""),
        response_code=fields.get("ResponseCode", ""), selected=tuple(o for o in options if o))
    if not message.msg_type or not message.from_user:
        raise MessageError("MsgType or FromUserName missing")
    if not message.create_time.isdigit():
        raise MessageError("CreateTime is not a number")
    if message.msg_type != "event" and not message.msg_id.isdigit():
        raise MessageError("a message without a numeric MsgId")
    return message


def to_incoming(message: WecomMessage) -> Incoming | None:
    """The neutral form of a message, or None for events campusbot does not act on."""
    match message.msg_type:
        case "text":
            return _incoming(message, "text", text=message.content)
        case "image":
            # answers a question that asks for a file; otherwise the router replies politely
            return _incoming(message, "file", attachment=Attachment(
                name="图片", media_id=message.media_id, url=message.pic_url))
        case "event":
            return _event(message)
        case kind if kind in UNSUPPORTED:
            return _incoming(message, "unsupported")
    log.info("ignored WeCom message type %s from %s", message.msg_type, message.from_user)
    return None


def _incoming(message: WecomMessage, kind: Kind, **fields: Any) -> Incoming:
    return Incoming(channel=NAME, user_id=message.from_user, kind=kind,
                    dedupe_key=message.dedupe_key(), **fields)


def _event(message: WecomMessage) -> Incoming | None:
    if message.is_card_tap:
        if not message.task_id or not message.event_key:
            log.warning("card tap without TaskId or EventKey from %s ignored", message.from_user)
            return None
        return _incoming(message, "tap", card_key=message.task_id, action=message.event_key)
    if message.event == "enter_agent":
        return _incoming(message, "event", event=OPENED)
    if message.event == "click" and message.event_key:
        return _incoming(message, "event", event=message.event_key)
    if message.event in INACTIVITY_EVENTS:
        log.warning("WeCom reports app inactivity: %s (use the app, or it may be disabled)",
                    message.event)
    return None
