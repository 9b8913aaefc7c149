"""Robot messages and card callbacks (the `data` of a Stream frame, or an HTTP callback's body)
→ neutral `Incoming` events.

A robot message: `msgtype` (text, picture, richText, audio, video, file, …), `text.content`,
`content`, `msgId`, `senderStaffId` (the userid; `senderId` is an encrypted id, not used),
`conversationType` ("1" one to one, "2" a group where the robot was @-ed), `createAt`, and more
keys that are ignored. The de-duplication key is the message's `msgId`: a message delivered
again, in a frame with the same or a new `messageId`, to this process or another, is one event.

A card callback: `outTrackId` (the card), `userId` (who tapped), and `content`, a JSON string
`{"cardPrivateData": {"actionIds": [...], "params": {...}}}`; the button's action is the
`action` param (our template sets it), else the first action id.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from bot.channels.dingtalk import NAME
from flows.answers import Attachment
from flows.incoming import Incoming

log = logging.getLogger("campusbot.dingtalk")

UNSUPPORTED = frozenset({"video", "file", "unknownMsgType", "link", "markdown"})
MAX_ID = 128


class MessageError(ValueError):
    """The message lacks what campusbot needs (a sender, an id)."""


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def robot_message(data: dict[str, Any]) -> Incoming | None:
    """The neutral event for a robot message, or None for what campusbot does not act on."""
    sender = _text(data.get("senderStaffId"))
    msg_id = _text(data.get("msgId"))
    if not sender or not msg_id or len(sender) > MAX_ID or len(msg_id) > 255:
        raise MessageError("senderStaffId or msgId missing")
    common = {"channel": NAME, "user_id": sender, "dedupe_key": f"msg:{msg_id}"}
    kind = _text(data.get("msgtype"))
    content = data.get("content") if isinstance(data.get("content"), dict) else {}
    match kind:
        case "text":
            text = data.get("text") if isinstance(data.get("text"), dict) else {}
            return Incoming(kind="text", text=_text(text.get("content")), **common)
        case "richText":
            parts = [p.get("text", "") for p in content.get("richText", [])
                     if isinstance(p, dict) and isinstance(p.get("text"), str)]
            if parts:
                return Incoming(kind="text", text="".join(parts).strip(), **common)
            return _picture(content, common)
        case "picture":
            return _picture(content, common)
        case "audio":
            # DingTalk transcribes voice messages: the words answer like typed text
            recognition = _text(content.get("recognition"))
            if recognition:
                return Incoming(kind="text", text=recognition, **common)
            return Incoming(kind="unsupported", **common)
        case other if other in UNSUPPORTED:
            return Incoming(kind="unsupported", **common)
    log.info("ignored DingTalk message type %s from %s", kind, sender)
    return None


def _picture(content: dict[str, Any], common: dict[str, str]) -> Incoming:
    code = _text(content.get("downloadCode") or content.get("pictureDownloadCode"))
    for part in content.get("richText", []) if not code else []:
        if isinstance(part, dict) and part.get("downloadCode"):
            code = _text(part["downloadCode"])
            break
    return Incoming(kind="file", attachment=Attachment(name="图片", media_id=code), **common)


@dataclass(frozen=True)
class CardTap:
    out_track_id: str
    user_id: str
    action: str
    params: dict[str, Any]


def card_tap(data: dict[str, Any]) -> CardTap:
    out_track_id = _text(data.get("outTrackId"))
    user_id = _text(data.get("userId"))
    if not out_track_id or not user_id or len(out_track_id) > 255 or len(user_id) > MAX_ID:
        raise MessageError("outTrackId or userId missing")
    content = data.get("content")
    if isinstance(content, str):
        try:
            content = json.loads(content) if content else {}
        except ValueError:
            raise MessageError("content is not JSON") from None
    private = content.get("cardPrivateData", {}) if isinstance(content, dict) else {}
    private = private if isinstance(private, dict) else {}
    params = private.get("params") if isinstance(private.get("params"), dict) else {}
    action_ids = [a for a in private.get("actionIds", []) if isinstance(a, str)]
    action = _text(params.get("action")) or (action_ids[0] if action_ids else "")
    if not action:
        raise MessageError("a card callback without an action")
    return CardTap(out_track_id, user_id, action, params)
