"""A pull-based page never gets a card it can still tap after its task was decided by text
(outsider3 F10): the card comes decided, with the update's status and no buttons."""

from __future__ import annotations

from tests.conftest import Sim
from tests.flows.test_approvals import submitted
from tests.flows.test_leave_dialog import HEAD


async def test_a_card_decided_by_text_before_the_page_asked_comes_decided(sim: Sim) -> None:
    application = await submitted(sim, "2", start="12月7日")
    decided = await sim.say(HEAD, f"同意 {application.id}")       # the card was never fetched
    update = next(m for m in decided if m["type"] == "card_update")
    later = await sim.inbox(HEAD)
    cards = [m for m in later if m["type"] == "card" and m["card_key"] == update["card_key"]]
    assert cards, later
    for card in cards:
        assert card["buttons"] == [] and card["status"] == update["status"]
    again = await sim.tap(HEAD, update["card_key"], "approve")
    assert not any(m["type"] == "card" and m.get("buttons") for m in again)


async def test_a_card_not_yet_decided_keeps_its_buttons(sim: Sim) -> None:
    await submitted(sim, "2", start="12月7日")
    card = await sim.card_for(HEAD)
    assert card["buttons"] and "status" not in card
