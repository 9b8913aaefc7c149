"""Jobs that act without a user: idle dialogs, leave-end reminders, flow reloads."""

from __future__ import annotations

import shutil
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot import keys
from bot.app import create_app
from bot.clock import FixedClock
from flows.catalog import DEFAULT_CATALOG
from tests.conftest import Sim
from tests.flows.test_leave_dialog import HEAD, TEACHER, fill_leave


async def test_an_idle_dialog_expires_with_a_notice(client: TestClient, sim: Sim) -> None:
    await sim.say(TEACHER, "我要请假")
    await sim.say(TEACHER, "事假")
    sim.advance(minutes=31)
    assert await client.app[keys.JOBS].expire_idle_dialogs() == 1
    notice = "\n".join(m["text"] for m in await sim.inbox(TEACHER))
    assert "30 分钟没有操作" in notice and "教职工请销假审批" in notice
    fresh = await sim.text(TEACHER, "明天")
    assert "开始日期" not in fresh                      # the old dialog is gone


async def test_an_idle_dialog_is_closed_when_the_user_comes_back(sim: Sim) -> None:
    await sim.say(TEACHER, "我要请假")
    sim.advance(hours=2)
    reply = await sim.text(TEACHER, "事假")
    assert "已自动关闭" in reply


async def test_the_teacher_is_reminded_when_the_leave_ends(client: TestClient, sim: Sim) -> None:
    await fill_leave(sim, "2")                          # Friday 27 and Saturday 28 November
    await sim.say(TEACHER, "确认")
    card = await sim.card_for(HEAD)
    await sim.tap(HEAD, card["card_key"], "approve")
    await sim.inbox(TEACHER)
    jobs = client.app[keys.JOBS]
    sim.advance(days=2)                                 # Saturday 09:00: not yet
    assert await jobs.send_due_reminders() == 0
    sim.advance(hours=8)                                # Saturday 17:00
    assert await jobs.send_due_reminders() == 1
    reminder = "\n".join(m["text"] for m in await sim.inbox(TEACHER))
    assert "回复“销假”" in reminder
    assert await jobs.send_due_reminders() == 0         # once only
    assert "已销假" in await sim.text(TEACHER, "销假")


async def test_flow_files_are_reloaded_without_a_restart(tmp_path: Path, settings_factory,
                                                         clock: FixedClock) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    shutil.copy(DEFAULT_CATALOG / "staff_leave.toml", catalog)
    settings = settings_factory(flows={"path": str(catalog)})
    async with TestClient(TestServer(create_app(settings, clock=clock,
                                                background=False))) as client:
        engine = client.app[keys.ENGINE]
        assert engine.catalog.by_name("教职工请销假审批") is not None
        assert await client.app[keys.JOBS].reload_flows() is False      # nothing changed
        text = (catalog / "staff_leave.toml").read_text(encoding="utf-8")
        renamed = text.replace('id = "staff_leave"', 'id = "staff_leave_v2"').replace(
            "教职工请销假审批", "教职工请假（新版）")
        (catalog / "staff_leave_v2.toml").write_text(renamed, encoding="utf-8")
        assert await client.app[keys.JOBS].reload_flows() is True
        assert engine.catalog.by_name("教职工请假（新版）") is not None
        (catalog / "staff_leave_v2.toml").write_text("[flow]\nid = 1\n", encoding="utf-8")
        await client.app[keys.JOBS].reload_flows()
        # a broken edit keeps serving the previous version and reports the problem
        assert engine.catalog.by_name("教职工请假（新版）") is not None
        assert any("staff_leave_v2.toml" in str(p) for p in engine.catalog.problems)
