"""办结时限 in working days: reminders at half time and on the last day, escalation and the
overdue list when time runs out, quiet hours, and each reminder sent exactly once — also by two
processes on one PostgreSQL database across a restart."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from tortoise import Tortoise

from bot import keys
from storage.db import tortoise_config
from storage.models import ApprovalTask, OutboxMessage, Reminder
from tests.conftest import PG_URL_ENV, SHANGHAI, Sim, wipe_database
from tests.flows.test_approvals import submitted, texts
from tests.flows.test_leave_dialog import HEAD, TEACHER
from tests.processes import processes


async def test_half_time_last_day_and_escalation(client: TestClient, sim: Sim) -> None:
    jobs = client.app[keys.JOBS]
    await submitted(sim)                         # Thursday 26 November 09:00; 1 working day
    task = await ApprovalTask.get(approver_id=HEAD)
    assert task.due_at.astimezone(SHANGHAI) == datetime(2026, 11, 27, 17, 30, tzinfo=SHANGHAI)
    await sim.inbox(HEAD)
    sim.advance(hours=8, minutes=30)                          # Thursday 17:30
    assert await jobs.send_due_reminders() == 0
    sim.advance(hours=15, minutes=5)                          # Friday 08:35
    assert await jobs.send_due_reminders() == 1
    assert "今天是办结时限的最后一天" in await texts(sim, HEAD)
    sim.advance(hours=9)                                      # Friday 17:35: time is out
    assert await jobs.send_due_reminders() == 2               # the approver and their leader
    assert "已超过办结时限" in await texts(sim, HEAD)
    chased = await texts(sim, "vp_wu")                        # 李院长 heads 文学院: his leader
    assert "督办" in chased and "李院长" in chased
    overdue = await sim.text("vp_wu", "超时")
    assert "在李院长处" in overdue
    assert "已超时" in await sim.text(HEAD, "待办")
    assert await jobs.send_due_reminders() == 0               # each once only


async def test_no_reminders_in_quiet_hours_and_no_burst_after(client: TestClient,
                                                              sim: Sim) -> None:
    jobs = client.app[keys.JOBS]
    await submitted(sim)
    await sim.inbox(HEAD)
    sim.advance(days=1, hours=13)                 # Friday 22:00: last day and deadline past
    assert await jobs.send_due_reminders() == 0   # quiet hours
    sim.advance(hours=10, minutes=30)             # Saturday 08:30
    assert await jobs.send_due_reminders() == 2   # one message to the approver, one to the head
    told = await texts(sim, HEAD)
    assert "已超过办结时限" in told and "最后一天" not in told    # the stale one is skipped
    assert await Reminder.filter(status="skipped").count() == 1


async def test_a_decided_task_is_not_reminded(client: TestClient, sim: Sim) -> None:
    await submitted(sim)
    card = await sim.card_for(HEAD)
    await sim.tap(HEAD, card["card_key"], "approve")
    await sim.inbox(HEAD)
    sim.advance(days=3)
    await client.app[keys.JOBS].send_due_reminders()
    assert "办结时限" not in await texts(sim, HEAD)


# ---- two processes on PostgreSQL, across a restart ------

needs_postgres = pytest.mark.skipif(not os.environ.get(PG_URL_ENV),
                                    reason="needs PostgreSQL (CAMPUSBOT_TEST_DATABASE_URL)")
FAST = {"CAMPUSBOT_APPROVALS__REMINDER_CHECK_SECONDS": "1",
        "CAMPUSBOT_APPROVALS__QUIET_HOURS": ""}


async def _post(session: aiohttp.ClientSession, url: str, path: str, body: dict) -> dict:
    async with session.post(f"{url}{path}", json=body) as response:
        assert response.status == 200
        return await response.json()


async def _apply(session: aiohttp.ClientSession, url: str, day: int) -> None:
    for text in ("我要请假", "事假", f"12月{day}日", "1", "家中有事需要处理", "否",
                 "13800000000", "确认"):
        await _post(session, url, "/sim/api/messages", {"user": TEACHER, "text": text})


async def _make_due(ids: list[int] | None = None) -> list[int]:
    """Time passes: the chosen pending reminders (all, by default) are due now."""
    query = Reminder.filter(status="pending")
    if ids is not None:
        query = query.filter(id__in=ids)
    rows = await query
    await Reminder.filter(id__in=[r.id for r in rows]).update(
        due_at=datetime.now(UTC) - timedelta(minutes=1))
    return [r.id for r in rows]


def _ids(message: OutboxMessage) -> list[int]:
    """The reminder ids a message carries: reminder:<id>,<id>:<user>."""
    return [int(i) for i in (message.dedupe_key or "").split(":")[1].split(",")]


async def _reminder_messages() -> list[OutboxMessage]:
    return await OutboxMessage.filter(dedupe_key__startswith="reminder:")


async def _wait_until(check, seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.2)):
        if await check():
            return
        await asyncio.sleep(0.2)


@needs_postgres
async def test_two_processes_send_each_reminder_once_across_a_restart(
        database_url: str) -> None:
    await wipe_database(database_url)
    await Tortoise.init(config=tortoise_config(database_url))
    try:
        with processes(database_url, FAST) as started:
            urls = [await started.serve(), await started.serve()]
            async with aiohttp.ClientSession() as session:
                for day in (7, 14, 21):
                    await _apply(session, urls[day % 2], day)
            tasks = await ApprovalTask.filter(status="pending")
            assert len(tasks) == 3
            first = await _make_due([r.id for r in await Reminder.filter(
                kind__startswith="due:", status="pending")][:2])

            async def first_sent() -> bool:
                return await Reminder.filter(id__in=first, status="sent").count() == 2
            await _wait_until(first_sent)
            await asyncio.sleep(2)                      # both processes ran again meanwhile
            sent_before = await _reminder_messages()
            assert await Reminder.filter(id__in=first, status="sent").count() == 2
        # both processes are gone; while down, everything else falls due
        later = await _make_due()
        assert later
        with processes(database_url, FAST) as restarted:
            await restarted.serve()
            await restarted.serve()

            async def all_sent() -> bool:
                return not await Reminder.filter(status="pending",
                                                 due_at__lte=datetime.now(UTC)).exists()
            await _wait_until(all_sent)
            await asyncio.sleep(2)
        messages = await _reminder_messages()
        # each reminder reached each of its recipients exactly once, before or after the restart
        pairs = Counter((i, m.user_id) for m in messages for i in _ids(m))
        assert pairs and set(pairs.values()) == {1}
        sent = {r.id for r in await Reminder.filter(status="sent")}
        skipped = {r.id for r in await Reminder.filter(status="skipped")}
        assert sent == {i for m in messages for i in _ids(m)}
        assert set(first) <= sent and set(later) <= sent | skipped      # none lost
        assert {i for m in sent_before for i in _ids(m)} == set(first)
    finally:
        await Tortoise.close_connections()
