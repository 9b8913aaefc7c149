"""WeCom's per-member limits on app messages: 30 a minute and 1,000 an hour (doc 90312).

Beyond them WeCom drops messages without an error, so they must never be reached. The outbox
sender counts outbox rows, but one row can become several WeCom messages (a long guide split
in two, a caption before a picture) and a card update is no message at all; this module counts
what WeCom counts, from the rows already sent, so the check holds across replicas.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.channels.wecom.cards import choices_layout, question_fits
from bot.channels.wecom.texts import split_text

PER_MINUTE = 30
PER_HOUR = 1000


def weight(payload: dict[str, Any]) -> int:
    """How many WeCom messages delivering `payload` takes."""
    match payload.get("type"):
        case "text":
            return len(split_text(str(payload.get("text", ""))))
        case "card":
            return 1
        case "image":
            return 2 if payload.get("caption") else 1
        case "choices":
            texts = len(split_text(str(payload.get("text", ""))))
            if choices_layout(payload) is None:
                return texts
            return 1 if question_fits(payload) else 1 + texts
    return 0  # card_update changes a card already sent


def room_for(payload: dict[str, Any], sent: list[tuple[int, datetime]], now: datetime, *,
             per_minute: int = PER_MINUTE, per_hour: int = PER_HOUR) -> bool:
    """True when sending `payload` now stays within both limits, given the (weight, sent at)
    of what this member was sent in the last hour."""
    needed = min(weight(payload), per_minute)  # a huge text still goes, at an empty minute
    if needed == 0:
        return True
    minute_ago = now - timedelta(minutes=1)
    last_hour = sum(count for count, _ in sent)
    last_minute = sum(count for count, at in sent if at >= minute_ago)
    return last_minute + needed <= per_minute and last_hour + needed <= per_hour


class Weights:
    """The weight of each sent outbox row, remembered by row id (a row never changes once
    sent): a member's last hour is read on every delivery, and working out each of its
    messages again (JSON, splitting long texts) cost more than reading them."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._known: dict[int, int] = {}

    def of(self, row_id: int, payload: Callable[[], dict[str, Any]]) -> int:
        known = self._known.get(row_id)
        if known is None:
            if len(self._known) >= self.size:
                self._known.clear()
            known = self._known[row_id] = weight(payload())
        return known
