"""Warm start: what the first message would wait for is built before the server answers, and
the logs say one line per turn and per state change."""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import TestClient

from bot import keys
from tests.conftest import Sim


async def test_search_index_and_flow_machines_are_built_before_the_first_message(
        client: TestClient) -> None:
    assert (await client.get("/healthz")).status == 200
    handlers = client.app[keys.DISPATCHER].handlers
    engine = client.app[keys.ENGINE]
    assert handlers.index._built is not None
    online = {(d.id, d.digest or f"v{d.version}") for d in engine.catalog.all() if d.online}
    assert online <= set(engine.runtime.machines._machines)


async def test_one_log_line_per_turn_and_per_state_change(sim: Sim,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    await sim.say("zhang_t", "我要请假")             # warm the simulator path
    caplog.clear()
    with caplog.at_level(logging.INFO):
        await sim.say("zhang_t", "事假")
    info = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert not [r for r in info if r.name.startswith("transitions")]
    assert len([r for r in info if r.name == "campusbot.dispatch"]) == 1
    assert len([r for r in info if r.name == "campusbot.flows"]) == 1
