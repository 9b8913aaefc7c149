"""Without a card template: the approver gets an ActionCard whose buttons send `同意 N` /
`驳回 N` / … as the approver's own message, and typing the command works the same."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from urllib.parse import unquote

import pytest

from bot.clock import FixedClock
from bot.config import Settings
from storage.models import Application
from tests.bot.channels.dingtalk.conftest import Bot, dingtalk_section, start_bot
from tests.bot.channels.dingtalk.test_stream_leave import HEAD, TEACHER, fill_leave
from tests.conftest import wipe_database
from tests.fakes.dingtalk import FakeDingtalk


@pytest.fixture
async def plain_bot(settings_factory: Callable[..., Settings], fake_dingtalk: FakeDingtalk,
                    clock: FixedClock, database_url: str) -> AsyncIterator[Bot]:
    await wipe_database(database_url)
    settings = settings_factory(
        dingtalk=dingtalk_section(fake_dingtalk.url, card_template_id=""),
        simulator={"enabled": False}, directory={"allow_demo": True})
    running = await start_bot(settings, clock, fake_dingtalk)
    try:
        yield running
    finally:
        await running.client.close()


async def test_an_action_card_whose_buttons_send_the_commands(plain_bot: Bot) -> None:
    await fill_leave(plain_bot)
    assert plain_bot.fake.cards == {}
    [card] = [d for d in plain_bot.fake.to(HEAD) if d.msg_key.startswith("sampleActionCard")]
    assert card.msg_key == "sampleActionCard5"
    assert card.param["title"] == "张老师的教职工请销假审批"
    assert "**请假类型**：病假" in card.param["text"]
    buttons = {card.param[f"actionTitle{n}"]: card.param[f"actionURL{n}"] for n in range(1, 6)}
    application = await Application.get(applicant_id=TEACHER)
    approve = buttons["同意"]
    assert approve.startswith("dtmd://dingtalkclient/sendMessage?content=")
    words = unquote(approve.split("content=", 1)[1])
    assert words == f"同意 {application.id}"
    # the tap makes the head's client send the words, as if typed
    await plain_bot.say(HEAD, words)
    assert f"#{application.id}" in plain_bot.fake.texts(HEAD)[-1] and \
        "已同意" in plain_bot.fake.texts(HEAD)[-1]
    assert "李院长已同意" in plain_bot.fake.texts(TEACHER)[-1]
    assert (await Application.get(id=application.id)).status == "followup"


async def test_a_typed_rejection_with_its_reason(plain_bot: Bot) -> None:
    await fill_leave(plain_bot)
    application = await Application.get(applicant_id=TEACHER)
    await plain_bot.say(HEAD, f"驳回 {application.id} 期末考试周，请调整时间")
    told = plain_bot.fake.texts(TEACHER)[-1]
    assert "驳回" in told and "期末考试周，请调整时间" in told
    assert (await Application.get(id=application.id)).status == "rejected"
