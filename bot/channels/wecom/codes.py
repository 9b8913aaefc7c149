"""Response codes of an approval card, kept in `ApprovalTask.response_code`.

WeCom hands out a code when a card is sent (message/send) and a fresh one with every tap; each
may be used once, within 72 hours, to update that card (message/update_template_card). The
column holds the card's unused codes, oldest first, separated by spaces, so a later update
(e.g. the second approver of an "all must approve" stage deciding) still finds one. A code being
used is marked with "~": if the answer to that call is lost, the retry knows the code was
ours, and WeCom's "code already used" then means the update went through.

Every change is a conditional update on the old value, so replicas cannot both take one code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from storage.models import ApprovalTask

T = TypeVar("T")
COLUMN_LENGTH = 256
IN_FLIGHT = "~"
_ATTEMPTS = 5


@dataclass(frozen=True)
class Claim:
    code: str
    #: True when an earlier attempt already sent this code and its answer never came back
    retry: bool


def _split(value: str | None) -> list[str]:
    return value.split() if value else []


def _join(codes: list[str]) -> str | None:
    while codes and len(" ".join(codes)) > COLUMN_LENGTH:
        codes = codes[1:]  # the oldest expire first
    return " ".join(codes) or None


def _usable(code: str) -> bool:
    return bool(code) and not code.startswith(IN_FLIGHT) and not any(c.isspace() for c in code) \
        and len(code) < COLUMN_LENGTH


async def _swap(card_key: str, change: Callable[[list[str]], tuple[list[str], T]],
                approver_id: str | None = None) -> T | None:
    """Apply `change(codes) -> (new codes, result)` with an optimistic retry loop."""
    for _ in range(_ATTEMPTS):
        query = ApprovalTask.filter(card_key=card_key)
        if approver_id is not None:
            query = query.filter(approver_id=approver_id)
        row = await query.first().values("response_code")
        if row is None:
            return None
        old = row["response_code"]
        new, result = change(_split(old))
        new_value = _join(new)
        if new_value == old:
            return result
        if await query.filter(response_code=old).update(response_code=new_value) == 1:
            return result
    return None


async def add(card_key: str, code: str, *, approver_id: str | None = None) -> bool:
    """Keep a fresh code; with `approver_id`, only on that approver's card (a tap by anyone
    else must not put their code on someone else's card)."""
    if not _usable(code):
        return False

    def keep(codes: list[str]) -> tuple[list[str], bool]:
        known = code in codes or IN_FLIGHT + code in codes
        return (codes if known else [*codes, code]), True
    return bool(await _swap(card_key, keep, approver_id))


async def claim(card_key: str) -> Claim | None:
    """Take a code for one update: an unanswered earlier attempt's first, else the newest."""
    def take(codes: list[str]) -> tuple[list[str], Claim | None]:
        for code in codes:
            if code.startswith(IN_FLIGHT):
                return codes, Claim(code[1:], retry=True)
        if not codes:
            return codes, None
        return [*codes[:-1], IN_FLIGHT + codes[-1]], Claim(codes[-1], retry=False)
    return await _swap(card_key, take)


async def spend(card_key: str, code: str) -> None:
    """The code was used (or is known to be unusable): forget it."""
    await _swap(card_key, lambda codes: (
        [c for c in codes if c not in (code, IN_FLIGHT + code)], None))
