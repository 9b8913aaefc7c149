"""Inbound DingTalk events, from a Stream frame or an HTTP callback, stored then run.

    robot message → Incoming (messages.py) → Dispatcher.accept (stored, group commit; the
                    database drops a copy, key `msg:<msgId>`) → ack → turn in the background
    card callback → the card by its outTrackId (channel_cards) → Incoming tap with the card's
                    neutral key and the button's action (key `tap:<frame messageId>`) → same

The ack goes out once the event is stored (the turn comes after), so DingTalk redelivers only
what was never stored. A database that cannot store it in time gets a 500 ack: DingTalk
delivers it again. Frame messageIds already answered in this process are answered again from
memory without touching the database; a copy that reaches another process is dropped there by
the database's unique key. Whether the tapper may decide is the engine's check (an approver of
the task); a tap by anyone else changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass

from bot import metrics
from bot.channels.dingtalk import NAME
from bot.channels.dingtalk.frames import CARD_TOPIC, ROBOT_TOPIC, Frame, FrameError, ack
from bot.channels.dingtalk.messages import MessageError, card_tap, robot_message
from bot.dispatcher import Dispatcher
from bot.pacing import CARD_READ_PAUSES, patiently
from flows.incoming import Incoming
from storage import channel_cards

log = logging.getLogger("campusbot.dingtalk")

ACCEPT_DEADLINE = 3.0
SEEN_FRAMES = 10_000


@dataclass(frozen=True)
class Outcome:
    #: "stored", "duplicate", "ignored", "failed", "refused"
    status: str
    incoming: Incoming | None = None


#: an outcome as `campusbot_callbacks_total` names results (bot/metrics.py)
RESULTS = {"stored": "accepted", "failed": "unavailable", "refused": "bad_request"}


def count(outcome: Outcome) -> None:
    metrics.CALLBACKS.inc(channel="dingtalk",
                          result=RESULTS.get(outcome.status, outcome.status))


class Receiver:
    def __init__(self) -> None:
        self.dispatcher: Dispatcher | None = None
        self._seen: OrderedDict[str, str] = OrderedDict()

    # ---- Stream frames ----------------------------------------------------------------
    async def on_frame(self, frame: Frame) -> str:
        """The ack for a CALLBACK or EVENT frame."""
        if frame.message_id and frame.message_id in self._seen:
            log.info("DingTalk frame %s delivered again: answered from memory", frame.message_id)
            return self._seen[frame.message_id]
        try:
            data = frame.json_data()
        except FrameError as exc:
            log.warning("DingTalk frame %s unreadable (%s): acknowledged, dropped",
                        frame.message_id, exc)
            return self._remember(frame, ack(frame, {"response": None}))
        if frame.topic == ROBOT_TOPIC:
            outcome = await self.robot_message(data)
        elif frame.topic == CARD_TOPIC:
            outcome = await self.card_callback(data, frame.message_id)
        else:
            log.info("DingTalk frame on topic %s ignored", frame.topic)
            outcome = Outcome("ignored")
        count(outcome)
        if outcome.status == "failed":
            return ack(frame, {"response": None}, code=500, message="retry later")
        # a card changes once the engine decided (PUT /v1.0/card/instances), not in the ack
        response = {"response": {}} if frame.topic == CARD_TOPIC else {"response": None}
        return self._remember(frame, ack(frame, response))

    def _remember(self, frame: Frame, answer: str) -> str:
        if frame.message_id:
            self._seen[frame.message_id] = answer
            while len(self._seen) > SEEN_FRAMES:
                self._seen.popitem(last=False)
        return answer

    # ---- events --------------------------------------------------------------------------
    async def robot_message(self, data: dict[str, object]) -> Outcome:
        try:
            incoming = robot_message(data)
        except MessageError as exc:
            log.warning("DingTalk robot message refused: %s", exc)
            return Outcome("refused")
        if incoming is None:
            return Outcome("ignored")
        return await self.store(incoming)

    async def card_callback(self, data: dict[str, object], message_id: str) -> Outcome:
        try:
            tap = card_tap(data)
        except MessageError as exc:
            log.warning("DingTalk card callback refused: %s", exc)
            return Outcome("refused")
        until = asyncio.get_running_loop().time() + ACCEPT_DEADLINE
        try:
            async with asyncio.timeout_at(until):
                # tried again while the database cannot be reached, as storing is: a tap
                # answered "failed" at once during a restart waits for DingTalk's redelivery
                card = await patiently(channel_cards.by_external_id, NAME, tap.out_track_id,
                                       pauses=CARD_READ_PAUSES)
        except Exception:
            log.exception("DingTalk card callback: card lookup failed")
            return Outcome("failed")
        if card is None:
            log.warning("DingTalk tap on unknown card %s by %s ignored", tap.out_track_id,
                        tap.user_id)
            return Outcome("ignored")
        key = f"tap:{message_id}" if message_id else \
            f"tap:{tap.out_track_id}:{tap.user_id}:{tap.action}"
        return await self.store(Incoming(channel=NAME, user_id=tap.user_id, kind="tap",
                                         card_key=card.card_key, action=tap.action,
                                         dedupe_key=key), until=until)

    async def store(self, incoming: Incoming, *, until: float | None = None) -> Outcome:
        """Store the event by `until` (loop time; default: ACCEPT_DEADLINE from now)."""
        dispatcher = self.dispatcher
        assert dispatcher is not None, "events arrive only after start-up"
        if until is None:
            until = asyncio.get_running_loop().time() + ACCEPT_DEADLINE
        try:
            async with asyncio.timeout_at(until):
                accepted = await dispatcher.accept(incoming)
        except TimeoutError:
            log.warning("DingTalk event not stored within %.1f s: DingTalk will deliver it "
                        "again", ACCEPT_DEADLINE)
            return Outcome("failed", incoming)
        except Exception:
            log.exception("DingTalk event could not be stored")
            return Outcome("failed", incoming)
        if accepted is None:
            log.info("DingTalk duplicate dropped: %s user=%s", incoming.describe(),
                     incoming.user_id)
            return Outcome("duplicate", incoming)
        dispatcher.intake.schedule(accepted)
        return Outcome("stored", incoming)
