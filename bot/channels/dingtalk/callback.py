"""POST /dingtalk/callback: the robot's message callback when `mode = "http"`.

Checks before anything is read as a message: size (413), the `timestamp` and `sign` headers
(signing.py: 400 malformed, 403 stale or wrong), the body within 10 s (408), a JSON object
(400). Then the message is stored (de-duplicated on its msgId) and answered with an empty JSON
200 at once; replies go out through the API. A database that cannot store it gets a 503.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot import keys, metrics
from bot.channels.body import Refused, read_body
from bot.channels.dingtalk import signing
from bot.channels.dingtalk.receiver import Receiver, count
from bot.clock import Clock

log = logging.getLogger("campusbot.dingtalk")

PATH = "/dingtalk/callback"
MAX_BODY = 64 * 1024
DRAIN_SECONDS = 10.0
REFUSED = {400: "bad_request", 403: "forbidden", 408: "too_slow", 413: "too_large"}


class HttpCallback:
    def __init__(self, secret: str, clock: Clock, receiver: Receiver) -> None:
        self._secret = secret
        self.clock = clock
        self.receiver = receiver

    async def receive(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _refuse(request, 413, "body too large")
        try:
            signing.verify(request.headers.get("timestamp", ""), request.headers.get("sign", ""),
                           self._secret, int(self.clock.now().timestamp() * 1000))
        except signing.SignatureError as exc:
            return _refuse(request, exc.status, str(exc))
        try:
            body = await read_body(request, MAX_BODY)
        except Refused as refused:
            return _refuse(request, refused.status, refused.reason)
        try:
            data = json.loads(body)
        except ValueError:
            return _refuse(request, 400, "not JSON")
        if not isinstance(data, dict):
            return _refuse(request, 400, "not a JSON object")
        outcome = await self.receiver.robot_message(data)
        count(outcome)
        if outcome.status == "refused":
            return _refuse(request, 400, "not a robot message", counted=True)
        if outcome.status == "failed":
            return web.json_response({}, status=503)
        return web.json_response({})

    async def lifespan(self, app: web.Application) -> AsyncIterator[None]:
        self.receiver.dispatcher = app[keys.DISPATCHER]
        yield
        await self.receiver.dispatcher.intake.drain(DRAIN_SECONDS)


def _refuse(request: web.Request, status: int, reason: str, *,
            counted: bool = False) -> web.Response:
    log.warning("DingTalk callback refused with %d from %s: %s", status, request.remote, reason)
    if not counted:
        metrics.CALLBACKS.inc(channel="dingtalk", result=REFUSED.get(status, str(status)))
    return web.json_response({"error": reason}, status=status)
