"""The outbox sender: nothing lost when the platform fails, nothing sent twice, order kept, and
the per-member rate limit respected."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from bot.channels.base import DeliveryError
from bot.clock import FixedClock
from bot.sender import OutboxSender
from storage import outbox
from storage.models import OutboxMessage


class FlakyChannel:
    """A platform that fails the first `failures` sends (a boundary fake, not our own code)."""

    name = "flaky"
    pushes = True

    def __init__(self, failures: int = 0, *, retryable: bool = True) -> None:
        self.failures = failures
        self.retryable = retryable
        self.delivered: list[tuple[str, str]] = []

    async def send(self, user_id: str, payload: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise DeliveryError("系统繁忙", retryable=self.retryable)
        self.delivered.append((user_id, payload["text"]))


async def queue(clock: FixedClock, user: str, *texts: str) -> None:
    for text in texts:
        await outbox.enqueue(channel="flaky", user_id=user, payload={"type": "text", "text": text},
                             now=clock.now())


def sender(channel: FlakyChannel, clock: FixedClock, **limits: int) -> OutboxSender:
    return OutboxSender({"flaky": channel}, clock, max_attempts=limits.get("attempts", 5),
                        per_user_per_minute=limits.get("per_minute", 30))


async def test_failures_are_retried_with_backoff_until_delivered(client: TestClient,
                                                                 clock: FixedClock) -> None:
    channel = FlakyChannel(failures=2)
    await queue(clock, "zhang_t", "您的申请已提交")
    worker = sender(channel, clock)
    await worker.deliver_due()
    assert channel.delivered == []
    await worker.deliver_due()                      # backoff not over yet: nothing happens
    assert channel.delivered == []
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        await worker.deliver_due()
    assert channel.delivered == [("zhang_t", "您的申请已提交")]
    clock.advance(timedelta(hours=1))
    await worker.deliver_due()
    assert len(channel.delivered) == 1              # never twice


async def test_order_per_user_is_kept_when_one_message_fails(client: TestClient,
                                                             clock: FixedClock) -> None:
    channel = FlakyChannel(failures=1)
    await queue(clock, "zhang_t", "第一条", "第二条", "第三条")
    worker = sender(channel, clock)
    for _ in range(4):
        await worker.deliver_due()
        clock.advance(timedelta(seconds=30))
    assert [text for _, text in channel.delivered] == ["第一条", "第二条", "第三条"]


async def test_a_permanent_error_is_not_retried_forever(client: TestClient,
                                                        clock: FixedClock) -> None:
    channel = FlakyChannel(failures=1, retryable=False)
    await queue(clock, "gone_user", "通知")
    await sender(channel, clock).deliver_due()
    message = await OutboxMessage.get()
    assert message.status == "failed" and "系统繁忙" in message.last_error


async def test_at_most_the_platform_limit_per_member_and_minute(client: TestClient,
                                                                clock: FixedClock) -> None:
    channel = FlakyChannel()
    await queue(clock, "li_dean", *(f"卡片{i}" for i in range(5)))
    worker = sender(channel, clock, per_minute=3)
    await worker.deliver_due()
    await worker.deliver_due()
    assert len(channel.delivered) == 3
    clock.advance(timedelta(seconds=61))
    await worker.deliver_due()
    assert [text for _, text in channel.delivered] == [f"卡片{i}" for i in range(5)]


async def test_a_message_left_sending_by_a_dead_process_is_sent(client: TestClient,
                                                                clock: FixedClock) -> None:
    await queue(clock, "zhang_t", "重要通知")
    claimed = await outbox.claim_due(clock.now(), ["flaky"], owner="dead")   # then it died
    assert len(claimed) == 1
    channel = FlakyChannel()
    clock.advance(timedelta(minutes=6))
    await sender(channel, clock).deliver_due()
    assert channel.delivered == [("zhang_t", "重要通知")]
