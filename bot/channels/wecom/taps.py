"""A tap on a WeCom card, read into a neutral event.

The card is found by its task_id in channel_cards, and the tap's fresh response code is kept
with it (only when the tapper is the one the card went to). Then:
- an approval card: a `tap` with the card's neutral key and the button's key;
- a question with choices: a `text` with the chosen option's words and the question's key,
  as if typed, and an update of the card to show the choice, queued in the outbox before the
  event is stored (so it goes out ahead of the answer the turn writes);
- a card from before channel_cards (its task_id was the card key): a `tap` on that key.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from bot.channels.wecom import NAME, cards, codes
from bot.channels.wecom.messages import WecomMessage
from flows.incoming import Incoming
from flows.messages import CardUpdate
from storage import channel_cards, outbox

log = logging.getLogger("campusbot.wecom")

CHOICES = "choices"


async def read(message: WecomMessage, tap: Incoming, now: datetime) -> Incoming | None:
    """The neutral event for a card tap (`tap` as read from the XML), or None to drop it."""
    card = await channel_cards.by_external_id(NAME, message.task_id)
    if card is None:
        return tap
    if message.response_code:
        await codes.add(card.id, message.response_code, tapped_by=message.from_user)
    if card.kind != CHOICES:
        return dataclasses.replace(tap, card_key=card.card_key)
    if card.external_user != message.from_user:
        log.warning("question card %s tapped by someone else (%s): ignored", card.card_key,
                    message.from_user)
        return None
    options = [str(o) for o in card.data.get("options", [])]
    keys = message.selected or (message.event_key,)
    chosen = [option for option in (cards.chosen_option(options, key) for key in keys) if option]
    if len(chosen) != 1:
        log.warning("question card %s: tap with options %s ignored", card.card_key, keys)
        return None
    await outbox.enqueue(channel=NAME, user_id=card.user_id,
                         payload=CardUpdate(card.card_key, f"已选：{chosen[0]}").payload(),
                         now=now, dedupe_key=f"{NAME}-choice:{card.external_id}")
    return Incoming(channel=NAME, user_id=message.from_user, kind="text", text=chosen[0],
                    card_key=card.card_key, dedupe_key=tap.dedupe_key)
