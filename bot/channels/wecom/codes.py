"""Response codes of a WeCom card, kept as the card's state in `channel_cards`.

WeCom hands out a code when a card is sent (message/send) and a fresh one with every tap; each
may be used once, within 72 hours, to update that card (message/update_template_card). The
state holds the card's unused codes, oldest first, separated by spaces, so a later update
(e.g. the second approver of an "all must approve" stage deciding) still finds one. A code being
used is marked with "~": if the answer to that call is lost, the retry knows the code was
ours, and WeCom's "code already used" then means the update went through.

Every change is a conditional update on the old value, so replicas cannot both take one code.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage import channel_cards
from storage.channel_cards import STATE_LENGTH

IN_FLIGHT = "~"


@dataclass(frozen=True)
class Claim:
    code: str
    #: True when an earlier attempt already sent this code and its answer never came back
    retry: bool


def _split(value: str | None) -> list[str]:
    return value.split() if value else []


def _join(codes: list[str]) -> str | None:
    while codes and len(" ".join(codes)) > STATE_LENGTH:
        codes = codes[1:]  # the oldest expire first
    return " ".join(codes) or None


def usable(code: str) -> bool:
    return bool(code) and not code.startswith(IN_FLIGHT) and not any(c.isspace() for c in code) \
        and len(code) < STATE_LENGTH


async def add(card_id: int, code: str, *, tapped_by: str | None = None) -> bool:
    """Keep a fresh code; with `tapped_by` (a WeCom userid), only if the card went to that
    account (a tap by anyone else must not put their code on someone else's card)."""
    if not usable(code):
        return False

    def keep(state: str | None) -> tuple[str | None, bool]:
        codes = _split(state)
        known = code in codes or IN_FLIGHT + code in codes
        return _join(codes if known else [*codes, code]), True
    return bool(await channel_cards.swap_state(card_id, keep, external_user=tapped_by))


async def claim(card_id: int) -> Claim | None:
    """Take a code for one update: an unanswered earlier attempt's first, else the newest."""
    def take(state: str | None) -> tuple[str | None, Claim | None]:
        codes = _split(state)
        for code in codes:
            if code.startswith(IN_FLIGHT):
                return state, Claim(code[1:], retry=True)
        if not codes:
            return state, None
        return _join([*codes[:-1], IN_FLIGHT + codes[-1]]), Claim(codes[-1], retry=False)
    return await channel_cards.swap_state(card_id, take)


async def spend(card_id: int, code: str) -> None:
    """The code was used (or is known to be unusable): forget it."""
    await channel_cards.swap_state(card_id, lambda state: (
        _join([c for c in _split(state) if c not in (code, IN_FLIGHT + code)]), None))
