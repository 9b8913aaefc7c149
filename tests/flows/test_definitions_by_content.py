"""Editing a flow never stalls dialogs: each application keeps the definition it started with,
identified by content (not by the file's `version` number), also after a restart."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot import keys
from bot.app import create_app
from bot.clock import FixedClock
from bot.config import Settings
from flows.catalog import DEFAULT_CATALOG
from storage.models import Application
from tests.conftest import Sim, wipe_database

HANDOVER = '''
[[fields]]
key = "handover"
label = "工作交接安排"
type = "text"
example = "课程已请王老师代上"
'''


def add_a_question(flow_file: Path) -> None:
    """What a unit's editor does: a new field, `version` left as it was."""
    text = flow_file.read_text(encoding="utf-8")
    at = text.index('[[fields]]\nkey = "phone"')
    flow_file.write_text(text[:at] + HANDOVER.lstrip() + "\n" + text[at:], encoding="utf-8")


async def test_an_edit_without_a_version_bump_leaves_old_and_new_dialogs_going(
        settings_factory: Callable[..., Settings], clock: FixedClock, database_url: str,
        tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    shutil.copytree(DEFAULT_CATALOG, flows)
    settings = settings_factory(flows={"path": str(flows)})
    await wipe_database(database_url)
    async with TestClient(TestServer(create_app(settings, clock=clock,
                                                background=False))) as first:
        sim = Sim(first, clock)
        for answer in ("我要请假", "事假", "明天", "2"):                   # an open dialog
            await sim.say("zhang_t", answer)
        add_a_question(flows / "staff_leave.toml")
        assert await first.app[keys.JOBS].reload_flows()
        for answer in ("我要请假", "事假", "明天", "2", "家中有事需要处理"):      # a new one
            await sim.say("wang_t", answer)
        assert "工作交接安排" in await sim.text("wang_t", "否")
        # the old dialog goes on with the questions it started with
        for answer in ("家中有事需要处理", "否"):
            await sim.say("zhang_t", answer)
        summary = await sim.text("zhang_t", "13800000000")
        assert "请核对" in summary and "工作交接安排" not in summary
        old, new = [await Application.get(applicant_id=user) for user in ("zhang_t", "wang_t")]
        assert old.flow_version == new.flow_version and old.flow_digest != new.flow_digest
    # a restart: the new server knows only the edited file, and continues both
    async with TestClient(TestServer(create_app(settings, clock=clock,
                                                background=False))) as second:
        sim = Sim(second, clock)
        assert "已提交" in await sim.text("zhang_t", "确认")
        card = await sim.card_for("li_dean")
        await sim.tap("li_dean", card["card_key"], "approve")
        assert (await Application.get(id=old.id)).status == "followup"     # approved
        assert "假期联系电话" in await sim.text("wang_t", "课程已请王老师代上")
        summary = await sim.text("wang_t", "13800000000")
        assert "工作交接安排：课程已请王老师代上" in summary
        assert "已提交" in await sim.text("wang_t", "确认")
