"""Cards as each channel delivered them: the platform's id for a card, who got it, what a tap
on it means, and the state the channel keeps for it (WeCom's response codes, DingTalk's card
data). The shared tables only know the neutral card key.

One row per delivery. A delivery that is retried (the answer to the first attempt was lost)
finds its row again, unconfirmed, and reuses the platform id: the platform then recognises the
repeat instead of showing a second card. A delivery that names its outbox row (`delivery`)
finds that row's card even once confirmed: a retry of an outbox row that went out, but whose
outcome was not recorded (the database connection lost right after), sends nothing again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError

from storage.models import ChannelCard
from storage.transactions import transaction

T = TypeVar("T")
STATE_LENGTH = 256
#: in a row's data: the outbox row that delivered the card
DELIVERY = "outbox_id"
_ATTEMPTS = 5


async def prepare(channel: str, card_key: str, *, user_id: str, external_user: str,
                  kind: str, new_id: Callable[[], str], now: datetime,
                  data: dict[str, Any] | None = None,
                  delivery: int | None = None) -> tuple[ChannelCard, bool]:
    """The row for delivering a card, and whether it is an earlier attempt's: the row of the
    same outbox `delivery` (sent or not, `sent_at` tells), else an unconfirmed row, else a
    new one under a fresh platform id from `new_id()`."""
    rows = await ChannelCard.filter(channel=channel, card_key=card_key,
                                    user_id=user_id).order_by("-id")
    if delivery is not None:
        same = next((row for row in rows if row.data.get(DELIVERY) == delivery), None)
        if same is not None:
            return same, True
    earlier = next((row for row in rows if row.sent_at is None), None)
    if earlier is not None:
        return earlier, True
    stored = {**(data or {}), **({DELIVERY: delivery} if delivery is not None else {})}
    for _ in range(_ATTEMPTS):
        try:
            async with transaction():
                return await ChannelCard.create(
                    channel=channel, external_id=new_id(), card_key=card_key, kind=kind,
                    user_id=user_id, external_user=external_user, data=stored,
                    created_at=now), False
        except IntegrityError:  # that id was taken: draw another
            continue
    raise RuntimeError(f"no free card id on {channel}")


async def mark_sent(card_id: int, now: datetime) -> None:
    await ChannelCard.filter(id=card_id).update(sent_at=now)


async def by_external_id(channel: str, external_id: str) -> ChannelCard | None:
    return await ChannelCard.get_or_none(channel=channel, external_id=external_id)


async def delivered(channel: str, card_key: str, user_id: str) -> list[ChannelCard]:
    """The person's copies of a card on `channel`, oldest first."""
    return await ChannelCard.filter(channel=channel, card_key=card_key,
                                    user_id=user_id).order_by("id")


async def swap_state(card_id: int, change: Callable[[str | None], tuple[str | None, T]],
                     *, external_user: str | None = None) -> T | None:
    """Apply `change(state) -> (new state, result)` as a conditional update on the old value,
    retried when another process changed it in between; None when the card is unknown (or,
    with `external_user`, not that account's)."""
    for _ in range(_ATTEMPTS):
        query = ChannelCard.filter(id=card_id)
        if external_user is not None:
            query = query.filter(external_user=external_user)
        row = await query.first().values("state")
        if row is None:
            return None
        old = row["state"]
        new, result = change(old)
        if new == old:
            return result
        if new is not None and len(new) > STATE_LENGTH:
            raise ValueError("card state longer than its column")
        if await query.filter(state=old).update(state=new) == 1:
            return result
    return None
