"""Turns: duplicates have one effect, concurrent messages of one user keep their order, and an
event stored but never processed (a crash) is replayed."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient

from bot import keys
from flows.incoming import Incoming
from storage.models import Application, InboundEvent
from tests.conftest import Sim


async def test_the_same_message_delivered_twice_has_one_effect(client: TestClient,
                                                                sim: Sim) -> None:
    body = {"user": "zhang_t", "text": "我要请假", "id": "msg-1"}
    first = await (await client.post("/sim/api/messages", json=body)).json()
    second = await (await client.post("/sim/api/messages", json=body)).json()
    assert first["replies"] and second == {"replies": [], "duplicate": True}
    assert await Application.all().count() == 1


async def test_concurrent_duplicates_have_one_effect(client: TestClient) -> None:
    body = {"user": "zhang_t", "text": "我要请假", "id": "msg-2"}
    results = await asyncio.gather(*(client.post("/sim/api/messages", json=body)
                                     for _ in range(5)))
    answers = [await r.json() for r in results]
    assert sum(1 for a in answers if a["replies"]) == 1
    assert await Application.all().count() == 1


async def test_concurrent_messages_of_one_user_are_processed_in_order(client: TestClient,
                                                                       sim: Sim) -> None:
    await sim.say("zhang_t", "我要请假")
    await asyncio.gather(sim.say("zhang_t", "事假"), sim.say("zhang_t", "明天"))
    application = await Application.get()
    assert application.form.get("leave_type") == "事假"
    assert application.form.get("start_date") == "2026-11-27"


async def test_an_event_stored_but_never_processed_is_replayed(client: TestClient,
                                                                sim: Sim) -> None:
    dispatcher = client.app[keys.DISPATCHER]
    event = await dispatcher.accept(Incoming(channel="sim", user_id="zhang_t", kind="text",
                                             text="我要请假", dedupe_key="crashed-1"))
    assert event is not None
    sim.advance(minutes=1)
    replayed = await client.app[keys.JOBS].replay_unprocessed()
    assert replayed == 1
    assert (await InboundEvent.get(id=event.event_id)).status == "done"
    assert "教职工请销假审批" in "\n".join(m.get("text", "") for m in await sim.inbox("zhang_t"))
    assert await client.app[keys.JOBS].replay_unprocessed() == 0

