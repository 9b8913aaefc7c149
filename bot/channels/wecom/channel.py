"""WecomChannel: delivers outbox payloads through the WeCom API, to the person's WeCom account.

    text         message/send text, split at 2048 bytes
    card         message/send template_card (button_interaction) under a task_id of its own,
                 recorded with the card's key in channel_cards, with its response code
    choices      a question with tappable options: a template_card (buttons, or a vote for
                 longer lists; cards.py), its options kept with the card so that a tap reads
                 back as the option's words; as the question's text when no card fits
    card_update  message/update_template_card on each of the person's copies of the card, with
                 one of that copy's unused response codes (buttons greyed out, showing the
                 status); an approval card without a usable code gets the status as a text
    image        a flowchart: media/upload (cached while WeCom keeps it), then an image message

Every message/send asks WeCom's duplicate check to drop a repeat of the same request, so a
retry after a lost answer is not shown twice. WeCom compares the whole request JSON, so the
interval (part of that JSON) is derived from the outbox row: a retry of one row repeats it
exactly, while the same words sent again later as a new row are a different request. A card's
retry also reuses its task_id (channel_cards keeps the unconfirmed delivery).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.channels.base import DELIVERING, DeliveryError
from bot.channels.wecom import NAME, cards, codes, limits
from bot.channels.wecom.client import WecomClient
from bot.channels.wecom.errors import (
    INVALID_MEDIA_ID,
    INVALID_RESPONSE_CODE,
    WecomApiError,
    WecomError,
)
from bot.channels.wecom.texts import split_text
from bot.clock import Clock
from storage import channel_cards, outbox
from storage.models import ApprovalTask, ChannelCard

log = logging.getLogger("campusbot.wecom")

DUPLICATE_CHECK_MIN = 1800        # covers every outbox retry of one row (< 15 min in all)
DUPLICATE_CHECK_SPREAD = 12601    # + up to 12600 s, so at most WeCom's 4 h
MEDIA_LIFETIME = timedelta(days=3) - timedelta(hours=6)
CODE_TRIES = 4
#: prepared deliveries kept at most (`prepare`)
PREPARED_MAX = 10_000
CHOICES = "choices"
#: WeCom's answer to a task_id that is malformed or was used before in the app
INVALID_TASK_ID = 42014
#: flow id → (PNG bytes, file name) or None when the picture cannot be drawn
Pictures = Callable[[str], Awaitable[tuple[bytes, str] | None]]


class WecomChannel:
    name = NAME
    pushes = True

    def __init__(self, client: WecomClient, clock: Clock, pictures: Pictures, *,
                 per_minute: int = limits.PER_MINUTE) -> None:
        self.client = client
        self.clock = clock
        self.pictures = pictures
        self.per_minute = min(per_minute, limits.PER_MINUTE)
        self._media: dict[str, tuple[str, datetime]] = {}
        #: weights of sent rows of this database (their ids are its ids)
        self._weights = limits.Weights()
        #: what the sender's last claims read for their rows (`prepare`), by person
        self._prepared: dict[str, _Prepared] = {}

    async def close(self) -> None:
        await self.client.close()

    async def prepare(self, claimed: dict[str, list[int]]) -> None:
        """Each person's last hour and account, for all the sender's claimed rows at once."""
        views = await outbox.delivery_views(NAME, list(claimed),
                                            self.clock.now() - timedelta(hours=1))
        if len(self._prepared) > PREPARED_MAX:  # rows released untried and never claimed here
            self._prepared.clear()
        for person, rows in claimed.items():
            self._prepared[person] = _Prepared(views[person], set(rows))

    def _take_prepared(self, user_id: str) -> outbox.DeliveryView | None:
        """The view `prepare` read for the row being delivered, if it did."""
        delivering, prepared = DELIVERING.get(), self._prepared.get(user_id)
        if delivering is None or prepared is None or delivering not in prepared.rows:
            return None
        prepared.rows.discard(delivering)
        if not prepared.rows:
            del self._prepared[user_id]
        return prepared.view

    async def send(self, user_id: str, payload: dict[str, Any]) -> None:
        now = self.clock.now()
        view = self._take_prepared(user_id)
        if view is None:
            view = await outbox.delivery_view(NAME, user_id, now - timedelta(hours=1))
        nonce, sent = _limits_state(view, payload, self._weights)
        account = view.address
        if not limits.room_for(payload, sent, now, per_minute=self.per_minute):
            raise DeliveryError("已到企业微信对单个成员的发送上限（每分钟 30 条、每小时 1000 条），"
                                "稍后再发", retryable=True, transient=True)
        to = _Recipient(user_id, account, nonce)
        try:
            match payload.get("type"):
                case "text":
                    await self._text(to, str(payload.get("text", "")))
                case "card":
                    await self._card(to, payload)
                case "choices":
                    await self._choices(to, payload)
                case "card_update":
                    await self._card_update(to, payload)
                case "image":
                    await self._image(to, payload)
                case other:
                    raise DeliveryError(f"unknown payload type {other!r}", retryable=False)
        except WecomError as exc:
            raise DeliveryError(str(exc), retryable=exc.retryable,
                                transient=exc.transient) from None
        except cards.CardError as exc:
            raise DeliveryError(f"card: {exc}", retryable=False) from None
        if nonce is not None and user_id in self._prepared:  # the lane's next rows count it
            view.recent.append(outbox.Recent(nonce, "sent", payload, self.clock.now()))

    # ---- message/send ---------------------------------------------------------------------
    async def _send(self, to: _Recipient, msgtype: str,
                    content: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"touser": to.account, "msgtype": msgtype,
                                "agentid": self.client.agent_id, msgtype: content}
        if to.nonce is not None:
            body["enable_duplicate_check"] = 1
            body["duplicate_check_interval"] = (DUPLICATE_CHECK_MIN
                                                + to.nonce % DUPLICATE_CHECK_SPREAD)
        result = await self.client.post("message/send", body)
        if result.get("invaliduser"):
            log.warning("WeCom message/send: recipient %s invalid", to.person)
        return result

    async def _text(self, to: _Recipient, text: str) -> None:
        for part in split_text(text):
            await self._send(to, "text", {"content": part})

    async def _card(self, to: _Recipient, payload: dict[str, Any]) -> None:
        row, retry = await self._delivery(to, str(payload.get("card_key", "")), "card")
        await self._send_card(to, row, retry, cards.template_card(payload, row.external_id))

    async def _choices(self, to: _Recipient, payload: dict[str, Any]) -> None:
        layout = cards.choices_layout(payload)
        if layout is None:  # too many or too long options for a card: the text names them
            await self._text(to, str(payload.get("text", "")))
            return
        row, retry = await self._delivery(to, str(payload.get("key", "")), CHOICES,
                                          {"options": [str(o) for o in payload["options"]]})
        rendered = cards.choices_card(payload, row.external_id)
        assert rendered is not None
        if rendered.intro:
            await self._text(to, rendered.intro)
        await self._send_card(to, row, retry, rendered.card)

    async def _delivery(self, to: _Recipient, card_key: str, kind: str,
                        data: dict[str, Any] | None = None) -> tuple[ChannelCard, bool]:
        """The card's row in channel_cards, and whether an earlier attempt made it."""
        if not card_key:
            raise DeliveryError(f"{kind} without a key", retryable=False)
        return await channel_cards.prepare(
            NAME, card_key, user_id=to.person, external_user=to.account, kind=kind,
            new_id=cards.new_task_id, now=self.clock.now(), data=data, delivery=to.nonce)

    async def _send_card(self, to: _Recipient, row: ChannelCard, retry: bool,
                         card: dict[str, Any]) -> None:
        if retry and row.sent_at is not None:
            log.info("card %s went out with this outbox message already", row.card_key)
            return
        try:
            result = await self._send(to, "template_card", card)
        except WecomApiError as exc:
            if exc.errcode != INVALID_TASK_ID or not retry:
                raise
            # an earlier attempt, whose answer was lost, already used this task_id
            log.info("card %s was delivered by an earlier attempt", row.card_key)
            result = {}
        code = result.get("response_code")
        if isinstance(code, str) and code:
            await codes.add(row.id, code)
        else:
            log.info("card %s sent without a response code", row.card_key)
        await channel_cards.mark_sent(row.id, self.clock.now())

    # ---- message/update_template_card -----------------------------------------------------
    async def _card_update(self, to: _Recipient, payload: dict[str, Any]) -> None:
        card_key, status = str(payload.get("card_key", "")), str(payload.get("status", ""))
        copies = await channel_cards.delivered(NAME, card_key, to.person)
        updated = [await self._update(copy, status) for copy in copies]
        if copies and all(updated):
            return
        if copies and all(c.kind == CHOICES for c in copies):  # a question's look only
            log.info("question card %s could not be updated", card_key)
            return
        await self._status_text(to, payload, "no usable response code" if copies
                                else "no card on record")

    async def _update(self, copy: ChannelCard, status: str) -> bool:
        for _ in range(CODE_TRIES):
            claim = await codes.claim(copy.id)
            if claim is None:
                return False
            try:
                await self.client.post("message/update_template_card", {
                    "userids": [copy.external_user], "agentid": self.client.agent_id,
                    "response_code": claim.code, "button": cards.decided_buttons(status)})
            except WecomApiError as exc:
                if exc.errcode != INVALID_RESPONSE_CODE:
                    raise  # the code stays claimed: the retry knows it may have been used
                await codes.spend(copy.id, claim.code)
                if claim.retry:  # the attempt whose answer was lost used it: already updated
                    log.info("card %s: update confirmed by a spent code", copy.card_key)
                    return True
                continue  # expired or used up: try the card's next code
            await codes.spend(copy.id, claim.code)
            return True
        return False

    async def _status_text(self, to: _Recipient, payload: dict[str, Any], why: str) -> None:
        card_key = str(payload.get("card_key", ""))
        task = await ApprovalTask.filter(card_key=card_key).first().values("application_id")
        if task is None:
            log.warning("card update for unknown card %s dropped", card_key)
            return
        log.info("card %s cannot be updated (%s): status sent as text", card_key, why)
        await self._send(to, "text", {
            "content": f"审批卡片（编号 #{task['application_id']}）{payload.get('status', '')}。"})

# ---- pictures -------------------------------------------------------------------------
    async def _image(self, to: _Recipient, payload: dict[str, Any]) -> None:
        source, caption = str(payload.get("source", "")), str(payload.get("caption", ""))
        kind, _, flow_id = source.partition(":")
        picture = await self.pictures(flow_id) if kind == "flowchart" else None
        if picture is None:
            await self._send(to, "text",
                             {"content": f"抱歉，暂时无法生成{caption or '流程图'}，请稍后再试。"})
            return
        if caption:
            await self._send(to, "text", {"content": caption})
        try:
            media_id = await self._media_id(source, *picture)
            await self._send(to, "image", {"media_id": media_id})
        except WecomApiError as exc:
            if exc.errcode != INVALID_MEDIA_ID:
                raise
            self._media.pop(source, None)  # WeCom forgot it before we expected: upload again
            media_id = await self._media_id(source, *picture)
            await self._send(to, "image", {"media_id": media_id})

    async def _media_id(self, source: str, content: bytes, filename: str) -> str:
        cached = self._media.get(source)
        now = self.clock.now()
        if cached and now - cached[1] < MEDIA_LIFETIME:
            return cached[0]
        result = await self.client.upload("media/upload", filename=filename, content=content,
                                           content_type="image/png", type="image")
        media_id = result.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise DeliveryError("media/upload returned no media_id")
        self._media[source] = (media_id, now)
        return media_id


@dataclass(frozen=True)
class _Recipient:
    #: the person's directory id (outbox rows, channel_cards) and their WeCom userid
    person: str
    account: str
    #: the outbox row being delivered, when known: it keys WeCom's duplicate check
    nonce: int | None


@dataclass
class _Prepared:
    view: outbox.DeliveryView
    #: the claimed rows it was read for, not delivered yet
    rows: set[int]


def _limits_state(view: outbox.DeliveryView, payload: dict[str, Any],
                  weights: limits.Weights) -> tuple[int | None, list[tuple[int, datetime]]]:
    """The id of the outbox row being delivered, and the (weight, sent at) of what the member
    was sent in the last hour (for the limits).

    The outbox sender names the row it delivers (`DELIVERING`). Otherwise the row is known
    when it is unambiguous: the only row of this user in 'sending' with exactly
    this payload. With two such rows in flight (the same words claimed twice, possibly by two
    replicas) either could be this one, and two sends sharing an id would make WeCom drop the
    second: then, and outside the sender, no duplicate check — losing a message is worse than
    showing one twice."""
    rows = view.recent
    sent = [(weights.of(r.id, r.decoded), r.sent_at) for r in rows
            if r.status == "sent" and r.sent_at is not None]
    if (delivering := DELIVERING.get()) is not None:
        return delivering, sent
    matching = [r.id for r in rows if r.status == "sending" and r.decoded() == payload]
    return (matching[0] if len(matching) == 1 else None), sent
