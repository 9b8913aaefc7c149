"""One school on both apps: a teacher applies on DingTalk (account 0451, not the directory's id),
the head's card goes to WeCom, where he approves; the teacher hears it on DingTalk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.channels.dingtalk.setup import INBOUND
from bot.clock import FixedClock
from bot.config import Settings
from storage.models import Application, ApprovalTask
from tests.bot.channels.dingtalk.conftest import Bot, dingtalk_section
from tests.bot.channels.wecom.conftest import AES_KEY, TOKEN, serving_fake_wecom, wecom_section
from tests.bot.test_two_channels import HEAD, HEAD_WECOM, LEAVE, TEACHER, school_directory
from tests.conftest import wipe_database
from tests.fakes.dingtalk import FakeDingtalk
from tests.fakes.wecom_callbacks import WecomCallbacks

TEACHER_DINGTALK = "0451"


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    """The school's file: the teacher with accounts on WeCom and DingTalk, the head on WeCom."""
    path = Path(school_directory(tmp_path))
    path.write_text(path.read_text("utf-8").replace(
        'chat = "9001001"', f'dingtalk = "{TEACHER_DINGTALK}"'), encoding="utf-8")
    return path


async def test_a_teacher_applies_on_dingtalk_and_the_head_approves_on_wecom(
        settings_factory: Callable[..., Settings], clock: FixedClock,
        fake_dingtalk: FakeDingtalk,
        database_url: str, directory: Path) -> None:
    await wipe_database(database_url)
    async with serving_fake_wecom(clock) as fake_wecom:
        fake_wecom.members[HEAD_WECOM] = {"userid": HEAD_WECOM, "name": "李院长", "status": 1}
        settings = settings_factory(
            wecom=wecom_section(fake_wecom.url), dingtalk=dingtalk_section(fake_dingtalk.url),
            simulator={"enabled": False}, directory={"file": str(directory)})
        app = create_app(settings, clock=clock, background=False)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        wecom = WecomCallbacks(fake_wecom, str(client.make_url("/wecom/callback")),
                               token=TOKEN, encoding_aes_key=AES_KEY)
        try:
            app[INBOUND].stream.backoff_base = 0.05  # type: ignore[union-attr]
            bot = Bot(app, client, fake_dingtalk, clock)
            for answer in LEAVE:
                replies = await bot.say(TEACHER_DINGTALK, answer)
            assert "已提交" in replies[0] and "李院长" in replies[0]
            application = await Application.get()
            assert (application.applicant_id, application.channel) == (TEACHER, "dingtalk")
            # the head has only a WeCom account: his card goes there, none to DingTalk
            assert fake_dingtalk.cards == {}
            [card] = fake_wecom.cards_to(HEAD_WECOM)
            assert card.card["main_title"]["title"] == "张老师的教职工请销假审批"
            await wecom.tap(HEAD_WECOM, card.task_id, "approve")
            await bot.settle()
            assert card.replaced[HEAD_WECOM].startswith("已同意（李院长")
            assert (await ApprovalTask.get()).decided_by == HEAD
            assert "李院长已同意" in fake_dingtalk.texts(TEACHER_DINGTALK)[-1]
            assert fake_wecom.to("ZhangWei") == []
        finally:
            fake_wecom.release()
            await wecom.close()
            await client.close()
