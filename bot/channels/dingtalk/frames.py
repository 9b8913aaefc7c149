"""Stream-mode frames (DingTalk's protocol for connections the app opens itself).

A frame the server pushes is a JSON text: `specVersion`, `type` (SYSTEM, EVENT, CALLBACK),
`headers` (`topic`, `messageId`, `contentType`, `time`, …) and `data`, a JSON *string*. The
client answers each with an ack: `code` (200, or 500 so that DingTalk delivers it again),
`headers` (`messageId` echoed, `contentType`), `message` and `data` (a JSON string).

System topics: `ping` (answer with its `opaque`), `disconnect` (the server closes the socket
about 10 s later: open a new connection with a new ticket at once).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ROBOT_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"
PING = "ping"
DISCONNECT = "disconnect"
SUBSCRIPTIONS = [{"type": "CALLBACK", "topic": ROBOT_TOPIC},
                 {"type": "CALLBACK", "topic": CARD_TOPIC}]
MAX_FRAME = 256 * 1024


class FrameError(ValueError):
    """Not a frame of the Stream protocol."""


@dataclass(frozen=True)
class Frame:
    type: str
    topic: str
    message_id: str
    data: str
    headers: dict[str, Any]

    def json_data(self) -> dict[str, Any]:
        try:
            value = json.loads(self.data) if self.data else {}
        except ValueError:
            raise FrameError("data is not JSON") from None
        if not isinstance(value, dict):
            raise FrameError("data is not a JSON object")
        return value


def parse(text: str) -> Frame:
    if len(text) > MAX_FRAME:
        raise FrameError("frame too large")
    try:
        raw = json.loads(text)
    except ValueError:
        raise FrameError("not JSON") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("headers"), dict):
        raise FrameError("no headers")
    headers = raw["headers"]
    data = raw.get("data", "")
    if not isinstance(data, str):
        data = json.dumps(data, ensure_ascii=False)
    return Frame(type=str(raw.get("type", "")), topic=str(headers.get("topic", "")),
                 message_id=str(headers.get("messageId", "")), data=data, headers=headers)


def ack(frame: Frame, data: Any, *, code: int = 200, message: str = "OK") -> str:
    return json.dumps({"code": code, "message": message,
                       "headers": {"messageId": frame.message_id,
                                   "contentType": "application/json"},
                       "data": json.dumps(data, ensure_ascii=False)}, ensure_ascii=False)


def pong(frame: Frame) -> str:
    """The answer to a `ping`: its `opaque`, echoed."""
    try:
        opaque = frame.json_data().get("opaque")
    except FrameError:
        opaque = None
    return ack(frame, {"opaque": opaque})
