"""Optimistic versions: a row changed by someone else since it was read is never overwritten."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from storage import applications as store
from storage.conversations import lock_conversation, save_conversation
from storage.errors import ConcurrentUpdate
from storage.models import Application
from tests.conftest import START


async def test_a_stale_application_is_not_saved(client: TestClient) -> None:
    created = await store.create_application(
        flow_id="staff_leave", flow_version=1, applicant_id="zhang_t", state="new",
        status="filling", channel="sim", now=START, expires_at=None)
    mine, theirs = await Application.get(id=created.id), await Application.get(id=created.id)
    theirs.state = "ask_days"
    await store.save_application(theirs)
    mine.state = "cancelled"
    with pytest.raises(ConcurrentUpdate):
        await store.save_application(mine)
    assert (await Application.get(id=created.id)).state == "ask_days"


async def test_a_stale_conversation_is_not_saved(client: TestClient) -> None:
    first = await lock_conversation("zhang_t", START)
    second = await lock_conversation("zhang_t", START)
    first.pending = {"kind": "reject_reason", "card_key": "a1-x"}
    await save_conversation(first, START)
    second.pending = {}
    with pytest.raises(ConcurrentUpdate):
        await save_conversation(second, START)
