"""Leave as the office needs it: overlapping leave is flagged, 销假 only once the leave has
started, an early return shortens the record, and a forgotten 销假 is chased."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot import keys
from storage.models import Application
from tests.conftest import Sim
from tests.flows.test_approvals import submitted, texts
from tests.flows.test_leave_dialog import HEAD, TEACHER, fill_leave


async def approve(sim: Sim) -> None:
    card = await sim.card_for(HEAD)
    await sim.tap(HEAD, card["card_key"], "approve")


async def test_the_overlap_warning_reaches_applicant_and_approver(sim: Sim) -> None:
    await submitted(sim, "3", start="12月7日")                # 7–9 December
    await approve(sim)
    summary = await fill_leave(sim, "2", start="12月8日")     # 8–9 December
    assert "同期已有请假 #1：12月7日–12月9日，3天（已批准）" in summary
    await sim.say(TEACHER, "确认")
    card = await sim.card_for(HEAD)
    assert ["注意", "同期已有请假 #1：12月7日–12月9日，3天（已批准）"] in card["facts"]
    clear = await fill_leave(sim, "1", start="12月14日")
    assert "同期已有请假" not in clear


async def test_report_back_before_the_leave_starts_offers_withdrawal(sim: Sim) -> None:
    application = await submitted(sim, "2", start="12月7日")
    await approve(sim)
    early = await sim.text(TEACHER, "销假")
    assert "尚未开始" in early and f"撤回 {application.id}" in early
    assert (await Application.get(id=application.id)).status == "followup"
    withdrawn = await sim.text(TEACHER, f"撤回 {application.id}")
    assert "已撤回" in withdrawn
    assert "不再休假" in await texts(sim, HEAD)


async def test_an_early_return_shortens_the_recorded_leave(sim: Sim) -> None:
    application = await submitted(sim, "5", start="11月30日")   # 30 Nov – 4 Dec
    for approver in (HEAD, "hr_chen"):
        card = await sim.card_for(approver)
        await sim.tap(approver, card["card_key"], "approve")
    sim.advance(days=6)                                          # Wednesday 2 December
    closed = await sim.text(TEACHER, "销假")
    assert "实际请假 11月30日–12月1日，2天" in closed
    stored = await Application.get(id=application.id)
    assert stored.meta["leave_actual"] == ["2026-11-30", "2026-12-01"]
    # the shortened leave no longer overlaps a leave on 3 December
    assert "同期已有请假" not in await fill_leave(sim, "1", start="12月3日")


async def test_no_report_back_first_reminds_then_tells_the_approver(
        client: TestClient, sim: Sim) -> None:
    await submitted(sim, "1", start="明天")                       # Friday 27 November
    await approve(sim)
    jobs = client.app[keys.JOBS]
    await sim.inbox(TEACHER)
    sim.advance(days=1, hours=8)                                 # Friday 17:00: last day
    assert await jobs.send_due_reminders() == 1
    assert "今天（11月27日）到期" in await texts(sim, TEACHER)
    sim.advance(days=5)                  # Wednesday 2 December 17:00: 3 working days later
    await jobs.send_due_reminders()
    assert "已超过 3 个工作日未销假" in await texts(sim, TEACHER)
    assert "未销假" not in await texts(sim, HEAD)
    sim.advance(days=1)                                          # a working day after that
    await jobs.send_due_reminders()
    assert "仍未销假" in await texts(sim, HEAD)
