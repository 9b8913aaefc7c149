"""DingtalkChannel: delivers outbox payloads to the person's DingTalk account.

    text         robot/oToMessages/batchSend, msgKey sampleText
    card         with a template: card/instances/createAndDeliver (callbackType STREAM) under an
                 outTrackId of its own, recorded in channel_cards; without one (or in HTTP
                 mode): an ActionCard whose buttons send the text commands (cards.py)
    card_update  PUT /v1.0/card/instances on each of the person's copies (outcome shown, buttons
                 gone); without a card on record, the status as a text
    choices      the question's text (it names the options; typing one answers)
    image        the caption and a pointer to the service hall (no flowchart picture here)

One outbox row is one DingTalk call (a text is not split), so a retry never repeats a part
already shown. batchSend takes up to 20 users; the outbox delivers per person, so each call
names one. A user DingTalk skipped for flow control (`flowControlledStaffIdList`) and a call
refused for the QPS limit did not take effect: the row is retried with backoff. A card retry
reuses its outTrackId, so DingTalk never shows two cards for one delivery.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from bot.channels.base import DeliveryError
from bot.channels.dingtalk import NAME, cards
from bot.channels.dingtalk.client import DingtalkClient
from bot.channels.dingtalk.errors import DingtalkApiError, DingtalkError
from bot.clock import Clock
from storage import channel_cards, identities
from storage.models import ApprovalTask

log = logging.getLogger("campusbot.dingtalk")

BATCH_SEND = "/v1.0/robot/oToMessages/batchSend"
CARD_DELIVER = "/v1.0/card/instances/createAndDeliver"
CARD_UPDATE = "/v1.0/card/instances"
MAX_USERS_PER_CALL = 20
TEXT_MAX = 5000


class DingtalkChannel:
    name = NAME
    pushes = True

    def __init__(self, client: DingtalkClient, clock: Clock, *, template_id: str = "") -> None:
        self.client = client
        self.clock = clock
        self.template_id = template_id

    async def send(self, user_id: str, payload: dict[str, Any]) -> None:
        account = await identities.address(NAME, user_id)
        try:
            match payload.get("type"):
                case "text":
                    await self.send_text([account], str(payload.get("text", "")))
                case "card":
                    await self._card(user_id, account, payload)
                case "card_update":
                    await self._card_update(user_id, account, payload)
                case "choices":
                    await self.send_text([account], str(payload.get("text", "")))
                case "image":
                    caption = str(payload.get("caption") or "流程图")
                    await self.send_text([account], f"{caption}：钉钉中暂不显示图片，"
                                         "请在网上办事大厅查看。")
                case other:
                    raise DeliveryError(f"unknown payload type {other!r}", retryable=False)
        except DingtalkError as exc:
            raise DeliveryError(str(exc), retryable=exc.retryable,
                                transient=exc.transient) from None
        except cards.CardError as exc:
            raise DeliveryError(f"card: {exc}", retryable=False) from None

    # ---- robot one-to-one messages -------------------------------------------------------
    async def send_text(self, accounts: list[str], text: str) -> None:
        if len(text) > TEXT_MAX:
            text = text[:TEXT_MAX - 1] + "…"
        await self.batch_send(accounts, "sampleText", {"content": text})

    async def batch_send(self, accounts: list[str], msg_key: str,
                         param: dict[str, Any]) -> None:
        """One batchSend call (≤ 20 users). Raises DeliveryError when a user was skipped."""
        if not 1 <= len(accounts) <= MAX_USERS_PER_CALL:
            raise DeliveryError(f"batchSend takes 1–{MAX_USERS_PER_CALL} users",
                                retryable=False)
        result = await self.client.api("POST", BATCH_SEND, {
            "robotCode": self.client.robot_code, "userIds": accounts, "msgKey": msg_key,
            "msgParam": json.dumps(param, ensure_ascii=False)})
        result = result if isinstance(result, dict) else {}
        limited = [str(u) for u in result.get("flowControlledStaffIdList") or []]
        invalid = [str(u) for u in result.get("invalidStaffIdList") or []]
        if limited:
            raise DeliveryError(f"DingTalk flow control skipped {len(limited)} user(s): "
                                "sent again later", retryable=True, transient=True)
        if invalid and len(invalid) == len(accounts):
            raise DeliveryError("DingTalk: recipient is not a valid user of the app",
                                retryable=False)
        if invalid:
            log.warning("DingTalk batchSend: %d invalid recipient(s)", len(invalid))

    # ---- cards ---------------------------------------------------------------------------
    async def _card(self, person: str, account: str, payload: dict[str, Any]) -> None:
        if not self.template_id:
            msg_key, param = cards.fallback_message(payload)
            await self.batch_send([account], msg_key, param)
            return
        card_key = str(payload.get("card_key", ""))
        if not card_key:
            raise DeliveryError("card without a key", retryable=False)
        row, retry = await channel_cards.prepare(
            NAME, card_key, user_id=person, external_user=account, kind="card",
            new_id=cards.new_out_track_id, now=self.clock.now())
        body = cards.deliver_body(payload, template_id=self.template_id,
                                  out_track_id=row.external_id, account=account,
                                  robot_code=self.client.robot_code)
        try:
            result = await self.client.api("POST", CARD_DELIVER, body)
        except DingtalkApiError as exc:
            if not (retry and exc.status == 400 and "outTrackId" in exc.code + exc.message):
                raise
            # an earlier attempt, whose answer was lost, created this card already
            log.info("card %s was delivered by an earlier attempt", card_key)
            result = {"success": True, "result": {"deliverResults": [{"success": True}]}}
        delivered = (result.get("result") or {}).get("deliverResults") or [] \
            if isinstance(result, dict) else []
        if delivered and not all(d.get("success") for d in delivered):
            errors = "; ".join(str(d.get("errorMsg", "")) for d in delivered)
            raise DeliveryError(f"DingTalk card not delivered: {errors}", retryable=True)
        await channel_cards.mark_sent(row.id, self.clock.now())

    async def _card_update(self, person: str, account: str, payload: dict[str, Any]) -> None:
        card_key = str(payload.get("card_key", ""))
        copies = [c for c in await channel_cards.delivered(NAME, card_key, person)
                  if c.sent_at is not None]
        for copy in copies:
            await self.client.api("PUT", CARD_UPDATE, cards.update_body(copy.external_id,
                                                                         payload))
        if copies:
            return
        task = await ApprovalTask.filter(card_key=card_key).first().values("application_id")
        if task is None:
            log.warning("card update for unknown card %s dropped", card_key)
            return
        await self.send_text([account], f"审批（编号 #{task['application_id']}）"
                                        f"{payload.get('status', '')}。")
