"""Waiting inbound events as the turn workers see them."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from storage import inbound
from storage.models import InboundEvent
from tests.conftest import START


async def store(user: str, key: str, attempts: int = 0) -> InboundEvent:
    return await InboundEvent.create(channel="wecom", dedupe_key=key, user_id=user,
                                     payload={}, received_at=START, attempts=attempts)


async def test_a_user_with_many_waiting_messages_does_not_hold_back_the_others(
        client: TestClient) -> None:
    first = await store("busy_t", "busy-0")
    for n in range(1, 40):
        await store("busy_t", f"busy-{n}")
    other = await store("zhang_t", "zhang-0")
    picked = await inbound.next_per_user(2, skip_users=set())
    assert [row.id for row in picked] == [first.id, other.id]   # each user's oldest only
    assert [row.id for row in await inbound.next_per_user(2, {"busy_t"})] == [other.id]


async def test_a_user_whose_oldest_message_failed_waits_for_the_recovery_job(
        client: TestClient) -> None:
    await store("zhang_t", "failed", attempts=1)
    await store("zhang_t", "later")
    others = await store("li_dean", "others")
    # zhang_t waits; li_dean does not wait behind him, even with room for only one
    assert [row.id for row in await inbound.next_per_user(1, skip_users=set())] == [others.id]
