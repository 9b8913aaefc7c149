"""The app menu and the two terminal commands: `campusbot wecom menu` and
`campusbot directory sync` (run as real processes against the fake WeCom)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bot.channels.wecom.menu import MENU, MenuError, check_menu, create_menu, menu_keys
from bot.clock import SystemClock
from handlers.router import MENU_EVENTS
from storage import identities
from storage.db import close_db, init_db
from storage.models import Person
from tests.bot.channels.wecom.conftest import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, Bot
from tests.bot.channels.wecom.test_directory_sync import DEPARTMENTS, MEMBERS, TAGS
from tests.conftest import wipe_database
from tests.fakes.wecom import FakeWecom


def test_the_menu_fits_wecoms_rules_and_sends_the_events_the_router_answers() -> None:
    check_menu(MENU)
    assert menu_keys() == set(MENU_EVENTS)
    bad: dict[str, Any]
    for bad in ({"button": []},
                {"button": [{"type": "click", "name": "名" * 6, "key": "k"}]},   # 18 bytes
                {"button": [{"name": "我的", "sub_button": []}]},
                {"button": [{"type": "click", "name": "x", "key": ""}]},
                {"button": [{"type": "click", "name": str(n), "key": str(n)} for n in range(4)]}):
        with pytest.raises(MenuError):
            check_menu(bad)


async def test_create_menu(bot: Bot) -> None:
    await create_menu(bot.channel.client)
    assert bot.fake.menus == [MENU]


@pytest.fixture
async def wecom_process_env(database_url: str) -> AsyncIterator[tuple[FakeWecom, dict[str, str]]]:
    await wipe_database(database_url)
    fake = FakeWecom(SystemClock(), corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET,
                     members={k: dict(v) for k, v in MEMBERS.items()},
                     departments=DEPARTMENTS, tags=TAGS)
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    env = {**os.environ, "CAMPUSBOT_DATABASE__URL": database_url,
           "CAMPUSBOT_WECOM__ENABLED": "true", "CAMPUSBOT_WECOM__CORP_ID": CORP_ID,
           "CAMPUSBOT_WECOM__AGENT_ID": str(AGENT_ID), "CAMPUSBOT_WECOM__SECRET": SECRET,
           "CAMPUSBOT_WECOM__TOKEN": TOKEN, "CAMPUSBOT_WECOM__ENCODING_AES_KEY": AES_KEY,
           "CAMPUSBOT_WECOM__API_BASE": str(server.make_url("")).rstrip("/")}
    try:
        yield fake, env
    finally:
        await server.close()


async def campusbot(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_cli_directory_sync_and_menu(
        wecom_process_env: tuple[FakeWecom, dict[str, str]], database_url: str) -> None:
    fake, env = wecom_process_env
    code, out, err = await campusbot(env, "directory", "sync")
    assert code == 0, err
    assert "企业微信：同步完成：4 个部门，6 位成员" in out
    assert "中层干部、学生社团负责人、教师" in out
    assert "新关联账号 5 个" in out                       # every active member's account
    assert "通讯录检查：4 个部门、5 人；" in out          # the directory check's summary
    assert "同步通讯录" in err and "11/11" in err          # the progress bar
    await init_db(database_url)
    try:
        assert (await Person.get(id="w_t1")).name == "周老师"
        assert await identities.person_of("wecom", "w_t1") == "w_t1"
        assert await identities.person_of("wecom", "w_left") is None   # left the school
    finally:
        await close_db()
    code, out, _ = await campusbot(env, "directory", "sync", "--channel", "wecom")
    assert code == 0 and "新关联账号" not in out            # linked once
    code, out, err = await campusbot(env, "wecom", "menu")
    assert code == 0, err
    assert "应用菜单已创建" in out and fake.menus == [MENU]


async def test_cli_explains_a_missing_wecom_configuration(
        wecom_process_env: tuple[FakeWecom, dict[str, str]]) -> None:
    _, env = wecom_process_env
    code, _, err = await campusbot({**env, "CAMPUSBOT_WECOM__ENABLED": "false"}, "wecom", "menu")
    assert code == 2 and "企业微信未启用" in err
    code, _, err = await campusbot({**env, "CAMPUSBOT_WECOM__SECRET": "wrong"}, "directory",
                                   "sync")
    assert code == 1 and "40001" in err and "corpsecret" not in err
