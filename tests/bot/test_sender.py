"""The outbox sender: nothing lost when the platform fails, nothing sent twice, order kept, the
per-member rate limit respected; retries fit for transient faults, and only errors retrying
cannot fix end a message — as a dead letter the admins hear about."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from bot.channels.base import DeliveryError
from bot.clock import FixedClock
from bot.sender import OutboxSender
from storage import outbox
from storage.models import OutboxMessage
from tests.query_count import count_queries


class FlakyChannel:
    """A platform that fails the first `failures` sends (a boundary fake, not our own code)."""

    name = "flaky"
    pushes = True

    def __init__(self, failures: int = 0, *, retryable: bool = True,
                 transient: bool = False, only_for: str | None = None) -> None:
        self.failures = failures
        self.retryable = retryable
        self.transient = transient
        #: the failures hit this user's messages only (others go through)
        self.only_for = only_for
        self.delivered: list[tuple[str, str]] = []

    async def send(self, user_id: str, payload: dict[str, Any]) -> None:
        if self.failures and self.only_for in (None, user_id):
            self.failures -= 1
            raise DeliveryError("系统繁忙", retryable=self.retryable, transient=self.transient)
        self.delivered.append((user_id, payload["text"]))


async def queue(clock: FixedClock, user: str, *texts: str) -> None:
    for text in texts:
        await outbox.enqueue(channel="flaky", user_id=user, payload={"type": "text", "text": text},
                             now=clock.now())


def sender(channel: FlakyChannel, clock: FixedClock, **limits: int) -> OutboxSender:
    return OutboxSender({"flaky": channel}, clock, max_attempts=limits.get("attempts", 5),
                        per_user_per_minute=limits.get("per_minute", 30),
                        give_up_after=timedelta(hours=limits.get("hours", 24)))


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


async def next_try_in(clock: FixedClock) -> float:
    message = await OutboxMessage.get()
    return (message.next_try_at - clock.now()).total_seconds()


async def test_first_retries_come_within_a_second_then_back_off(client: TestClient,
                                                                clock: FixedClock) -> None:
    await queue(clock, "zhang_t", "您的申请已提交")
    worker = sender(FlakyChannel(failures=100, transient=True), clock)
    delays = []
    for _ in range(15):
        await worker.deliver_due()
        delays.append(await next_try_in(clock))
        clock.advance(timedelta(seconds=delays[-1] + 0.001))
    assert delays[0] < 1 and delays[1] < 1                 # a blip costs the user no wait
    assert delays[0] < delays[4] < delays[8] < delays[12]  # then backing off
    assert delays[12] > 200 and max(delays) <= 360          # to ~5 min apart, no more


async def test_a_busy_platform_is_retried_for_hours_not_given_up(client: TestClient,
                                                                 clock: FixedClock) -> None:
    channel = FlakyChannel(failures=10**6, transient=True)
    await queue(clock, "zhang_t", "您的申请已提交")
    worker = sender(channel, clock, attempts=5)
    for _ in range(6 * 12):                                 # six hours of 系统繁忙
        await worker.deliver_due()
        clock.advance(timedelta(minutes=5))
    message = await OutboxMessage.get()
    assert message.status == "pending" and message.attempts > 5
    channel.failures = 0                                    # the platform is back
    clock.advance(timedelta(minutes=6))
    await worker.deliver_due()
    assert channel.delivered == [("zhang_t", "您的申请已提交")]


async def test_a_transient_fault_is_given_up_after_the_configured_hours(
        client: TestClient, clock: FixedClock) -> None:
    await queue(clock, "zhang_t", "您的申请已提交")
    worker = sender(FlakyChannel(failures=10**6, transient=True), clock, hours=24)
    await worker.deliver_due()
    clock.advance(timedelta(hours=24))
    await worker.deliver_due()
    assert (await OutboxMessage.get()).status == "failed"


async def test_an_unexplained_error_is_given_up_after_max_attempts(client: TestClient,
                                                                   clock: FixedClock) -> None:
    await queue(clock, "zhang_t", "您的申请已提交")
    worker = sender(FlakyChannel(failures=100), clock, attempts=3)
    for _ in range(3):
        await worker.deliver_due()
        clock.advance(timedelta(minutes=1))
    message = await OutboxMessage.get()
    assert message.status == "failed" and message.attempts == 3 and message.failed_at


async def test_a_dead_letter_is_reported_once_and_can_be_sent_again(
        client: TestClient, clock: FixedClock) -> None:
    told: list[tuple[int, str]] = []

    async def tell(message: OutboxMessage, error: str) -> None:
        told.append((message.id, error))
    channel = FlakyChannel(failures=1, retryable=False)
    worker = sender(channel, clock)
    worker.on_dead = tell
    await queue(clock, "zhang_t", "通知")
    await worker.deliver_due()
    await worker.deliver_due()
    dead = await outbox.dead_letters()
    assert [m.id for m in dead] == [told[0][0]] and len(told) == 1 and "系统繁忙" in told[0][1]
    assert await outbox.retry_dead(dead[0].id, clock.now())
    await worker.deliver_due()
    assert channel.delivered == [("zhang_t", "通知")] and await outbox.dead_letters() == []


async def test_many_users_deliveries_are_marked_sent_in_few_statements(
        client: TestClient, clock: FixedClock) -> None:
    channel = FlakyChannel()
    users = [f"u{n}" for n in range(20)]
    for user in users:
        await queue(clock, user, f"给{user}的回复")
    with count_queries() as counted:
        await sender(channel, clock).deliver_due()
    assert sorted(user for user, _ in channel.delivered) == sorted(users)
    assert await OutboxMessage.filter(status="sent").count() == len(users)
    marks = [sql for sql in counted.sql if sql.startswith("UPDATE") and "sent_at" in sql]
    assert len(marks) < len(users) / 2, marks     # grouped, not one UPDATE per message


async def retry_waits(channel: FlakyChannel, clock: FixedClock, *, others: bool) -> list[float]:
    """How long zhang_t's one message waits before each retry while it keeps failing —
    with other users' messages going through meanwhile (`others`), or none."""
    await queue(clock, "zhang_t", "您的申请已提交")
    worker = sender(channel, clock)
    waits = []
    for n in range(12):
        if others:
            await queue(clock, f"t{n}", "帮助")
        await worker.deliver_due()
        message = await OutboxMessage.get(user_id="zhang_t")
        waits.append((message.next_try_at - clock.now()).total_seconds())
        clock.advance(timedelta(seconds=waits[-1] + 0.1))
    return waits


async def test_an_unlucky_message_is_retried_briskly_while_the_platform_is_up(
        client: TestClient, clock: FixedClock) -> None:
    """30 % of calls failing: one reply failed 11 times and backed off as for an outage
    (waits of 30–68 s), reaching the user after four minutes while everybody else's went."""
    waits = await retry_waits(FlakyChannel(failures=100, transient=True, only_for="zhang_t"),
                              clock, others=True)
    assert max(waits) <= 10 * 1.2


async def test_in_an_outage_the_retries_back_off(client: TestClient, clock: FixedClock) -> None:
    waits = await retry_waits(FlakyChannel(failures=100, transient=True), clock, others=False)
    assert waits[-1] >= 60 * 0.8


class HangingChannel(FlakyChannel):
    """A platform whose calls for some users get no answer (until the test ends)."""

    def __init__(self, hanging: set[str]) -> None:
        super().__init__()
        self.hanging = hanging
        self.waiting: set[str] = set()

    async def send(self, user_id: str, payload: dict[str, Any]) -> None:
        if user_id in self.hanging:
            self.waiting.add(user_id)
            await asyncio.Event().wait()
        await super().send(user_id, payload)


async def eventually(check: Callable[[], bool], seconds: float = 3.0) -> bool:
    for _ in range(int(seconds / 0.02)):
        if check():
            return True
        await asyncio.sleep(0.02)
    return check()


async def test_calls_hanging_for_their_timeout_do_not_hold_up_other_users(
        client: TestClient, clock: FixedClock) -> None:
    """With 15 % of calls hanging for the 10-s timeout, every lane was hanging and one
    teacher's reply waited 55 s for a lane."""
    channel = HangingChannel({"hang1", "hang2"})
    await queue(clock, "hang1", "回复一")
    await queue(clock, "hang2", "回复二")
    worker = OutboxSender({"flaky": channel}, clock, max_attempts=5, per_user_per_minute=30,
                          concurrency=2, slow_call=0.05)
    running = asyncio.create_task(worker.run())
    try:
        assert await eventually(lambda: channel.waiting == {"hang1", "hang2"})
        await queue(clock, "zhang_t", "您的申请已提交")
        worker.wake()
        assert await eventually(lambda: channel.delivered == [("zhang_t", "您的申请已提交")])
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_hanging_calls_never_hold_more_than_the_most_lanes(
        client: TestClient, clock: FixedClock) -> None:
    """Each lane holds an HTTP connection while its call hangs: past `most_lanes` the others
    wait for a lane instead of queueing for a connection (and timing out there)."""
    users = {f"hang{n}" for n in range(6)}
    channel = HangingChannel(users)
    for user in sorted(users):
        await queue(clock, user, "回复")
    worker = OutboxSender({"flaky": channel}, clock, max_attempts=5, per_user_per_minute=30,
                          concurrency=2, most_lanes=3, slow_call=0.05)
    running = asyncio.create_task(worker.run())
    try:
        assert await eventually(lambda: len(channel.waiting) == 3)
        await asyncio.sleep(0.3)              # the hanging lanes are slow by now: no more start
        assert len(channel.waiting) == 3, channel.waiting
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
