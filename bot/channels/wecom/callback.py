"""GET/POST /wecom/callback: WeCom's URL verification and its message and event callbacks.

POST, answered well within WeCom's 5 s (it retries, and disables apps that keep failing):
    check the query and size → parse the envelope → verify the signature → decrypt (receive id
    = CorpID) → parse → for a card tap: find the card (channel_cards), keep its fresh response
    code, and read the tap (taps.py) → store the event (`Dispatcher.accept`: group commit, a
    duplicate is dropped; bot/intake.py) → answer an empty 200; the turn runs afterwards in a
    tracked background task (`Dispatcher.intake`), or in a `campusbot worker` process when
    `[server] run_turns = false`, and replies go out through the API.

Bad input gets a 4xx with an empty body: 400 malformed, 403 not from WeCom (signature, receive
id, stale timestamp), 413 too large (announced or while reading), 408 a body that does not
arrive within 10 s (a slow client holding connections open; bot/channels/body.py). Only a
database that cannot store the event gets a 503, so that WeCom delivers it again instead of it
being lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from bot import keys, metrics
from bot.channels.body import BODY_SECONDS, Refused, read_body
from bot.channels.wecom import taps
from bot.channels.wecom.crypto import CryptoError, ReceiveIdError, SignatureError, WecomCrypto
from bot.channels.wecom.messages import (
    MessageError,
    WecomMessage,
    parse_envelope,
    parse_message,
    to_incoming,
)
from bot.channels.wecom.settings import WecomSettings
from bot.clock import Clock
from bot.dispatcher import Dispatcher
from bot.pacing import CARD_READ_PAUSES, patiently

log = logging.getLogger("campusbot.wecom")

PATH = "/wecom/callback"
MAX_BODY = 16 * 1024          # an encrypted message is a few KB; text content ≤ 2048 bytes
MAX_PARAM = 512
#: a signature stays valid forever; older requests are refused, newer ones are deduplicated
#: (inbound events are kept 7 days). Generous, so clock skew never rejects genuine callbacks.
FRESHNESS_SECONDS = 24 * 3600
#: storing an event may take this long before the answer is a 503: WeCom waits 5 s, and a
#: database restarting for a couple of seconds should cost no delivery (bot/intake.py)
ACCEPT_DEADLINE = 3.0
DRAIN_SECONDS = 10.0


class WecomCallback:
    def __init__(self, settings: WecomSettings, clock: Clock) -> None:
        self.crypto = WecomCrypto(settings.token, settings.encoding_aes_key, settings.corp_id)
        self.agent_id = str(settings.agent_id)
        self.clock = clock
        self.dispatcher: Dispatcher | None = None
        self.body_seconds = BODY_SECONDS   # a client still sending after this gets 408

    # ---- GET: URL verification -------------------------------------------------------------
    async def verify_url(self, request: web.Request) -> web.Response:
        try:
            signature, timestamp, nonce = self._signed_query(request)
            echostr = _param(request, "echostr")
            self._verify(signature, timestamp, nonce, echostr)
            plain = self.crypto.decrypt(echostr)
        except Refused as refused:
            return _refuse(request, refused)
        except CryptoError as exc:
            return _refuse(request, _crypto_rejection(exc))
        except Exception:  # bad input must never become a 5xx
            log.warning("WeCom URL verification: unreadable request refused", exc_info=True)
            return web.Response(status=400)
        log.info("WeCom URL verification answered")
        return web.Response(body=plain.encode("utf-8"), content_type="text/plain")

    # ---- POST: messages and events ---------------------------------------------------------
    async def receive(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            message = await self._read(request)
        except Refused as refused:
            return _refuse(request, refused)
        except Exception:  # bad input must never become a 5xx, whatever it trips over
            log.warning("WeCom callback: unreadable request refused", exc_info=True)
            return _counted(web.Response(status=400))
        if message.agent_id and message.agent_id != self.agent_id:
            log.warning("WeCom callback for agent %s ignored (configured: %s)",
                        message.agent_id, self.agent_id)
            return _counted(web.Response(), "ignored")
        incoming = to_incoming(message)
        if incoming is None:
            return _counted(web.Response(), "ignored")
        try:
            async with asyncio.timeout(ACCEPT_DEADLINE):
                if message.is_card_tap:
                    # before the event is stored, so that its turn (even one replayed after a
                    # crash) finds the card's new code; a redelivery repeats it harmlessly
                    # tried again while the database cannot be reached, as storing is: a tap
                    # refused at once during a restart was lost
                    incoming = await patiently(taps.read, message, incoming, self.clock.now(),
                                               pauses=CARD_READ_PAUSES)
                    if incoming is None:
                        return _counted(web.Response(), "ignored")
                accepted = await self._dispatcher().accept(incoming)
        except TimeoutError:
            # answer now so WeCom retries; if the row still lands, the intake starts its turn
            log.warning("WeCom callback: storing took over %.1f s, answered 503", ACCEPT_DEADLINE)
            return _counted(web.Response(status=503))
        except Exception:
            log.exception("WeCom callback: event could not be stored, answered 503")
            return _counted(web.Response(status=503))
        if accepted is None:
            log.info("WeCom duplicate dropped: %s user=%s", incoming.describe(), incoming.user_id)
            return _counted(web.Response(), "duplicate")
        self._dispatcher().intake.schedule(accepted)
        log.debug("WeCom callback accepted in %.1f ms", (time.perf_counter() - started) * 1000)
        return _counted(web.Response(), "accepted")

    async def _read(self, request: web.Request) -> WecomMessage:
        signature, timestamp, nonce = self._signed_query(request)
        body = await read_body(request, MAX_BODY, self.body_seconds)
        try:
            envelope = parse_envelope(body)
            self._verify(signature, timestamp, nonce, envelope.encrypt)
            return parse_message(self.crypto.decrypt(envelope.encrypt))
        except MessageError as exc:
            raise Refused(400, f"malformed XML ({exc})") from None
        except CryptoError as exc:
            raise _crypto_rejection(exc) from None

    def _signed_query(self, request: web.Request) -> tuple[str, str, str]:
        signature = _param(request, "msg_signature")
        timestamp = _param(request, "timestamp")
        nonce = _param(request, "nonce")
        if not timestamp.isdigit():
            raise Refused(400, "timestamp is not a number")
        if abs(self.clock.now().timestamp() - int(timestamp)) > FRESHNESS_SECONDS:
            raise Refused(403, "stale timestamp")
        return signature, timestamp, nonce

    def _verify(self, signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        try:
            self.crypto.verify(signature, timestamp, nonce, encrypt)
        except SignatureError:
            raise Refused(403, "bad signature") from None

    def _dispatcher(self) -> Dispatcher:
        assert self.dispatcher is not None, "callbacks arrive only after start-up"
        return self.dispatcher

    async def lifespan(self, app: web.Application) -> AsyncIterator[None]:
        self.dispatcher = app[keys.DISPATCHER]
        yield
        await self.dispatcher.intake.drain(DRAIN_SECONDS)


def _param(request: web.Request, name: str) -> str:
    value = request.query.get(name, "")
    if not value or len(value) > MAX_PARAM:
        raise Refused(400, f"query parameter {name} missing or too long")
    return value


def _crypto_rejection(exc: CryptoError) -> Refused:
    if isinstance(exc, SignatureError):
        return Refused(403, "bad signature")
    if isinstance(exc, ReceiveIdError):
        return Refused(403, "encrypted for another corp")
    return Refused(400, f"undecryptable ({exc})")


def _refuse(request: web.Request, refused: Refused) -> web.Response:
    log.warning("WeCom callback refused with %d from %s: %s", refused.status,
                request.remote, refused.reason)
    return _counted(web.Response(status=refused.status))


_RESULTS = {400: "bad_request", 403: "forbidden", 408: "too_slow", 413: "too_large",
            503: "unavailable"}


def _counted(response: web.Response, result: str | None = None) -> web.Response:
    metrics.CALLBACKS.inc(channel="wecom", result=result or _RESULTS.get(response.status,
                                                                          str(response.status)))
    return response


CALLBACK = web.AppKey("wecom_callback", WecomCallback)


def register(app: web.Application) -> None:
    """Add the callback routes; the caller checks that [wecom] is enabled."""
    settings = app[keys.SETTINGS]
    callback = WecomCallback(settings.section("wecom"), app[keys.CLOCK])
    app[CALLBACK] = callback
    app.router.add_get(PATH, callback.verify_url)
    app.router.add_post(PATH, callback.receive)
    app.cleanup_ctx.append(callback.lifespan)
