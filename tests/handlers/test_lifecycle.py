"""成熟一个、上线一个: only live flows can be applied for; a draft can be tried by its reviewers."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.clock import FixedClock
from bot.config import Settings
from flows.catalog import DEFAULT_CATALOG
from tests.conftest import Sim, wipe_database


@pytest.fixture
async def draft_sim(tmp_path: Path, settings_factory: Callable[..., Settings],
                    clock: FixedClock, database_url: str) -> AsyncIterator[Sim]:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    shutil.copy(DEFAULT_CATALOG / "staff_leave.toml", catalog)
    text = (DEFAULT_CATALOG / "it_repair.toml").read_text(encoding="utf-8")
    draft = text.replace('status = "live"', 'status = "draft"\nreviewers = ["zhang_t"]')
    (catalog / "it_repair.toml").write_text(draft, encoding="utf-8")
    await wipe_database(database_url)
    app = create_app(settings_factory(flows={"path": str(catalog)}), clock=clock,
                     background=False)
    async with TestClient(TestServer(app)) as client:
        yield Sim(client, clock)


async def test_a_draft_flow_can_be_tried_by_its_reviewer(draft_sim: Sim) -> None:
    reply = await draft_sim.text("zhang_t", "办理 IT报修")
    assert "开始办理《IT报修》" in reply


async def test_a_draft_flow_is_not_offered_to_others(draft_sim: Sim) -> None:
    reply = await draft_sim.text("wang_t", "办理 IT报修")
    assert "尚未上线" in reply
    assert "开始办理" not in reply
