"""A leave request and its approval over DingTalk's Stream mode, through the fake DingTalk:
the teacher's messages arrive as frames, the head gets an interactive card, taps 同意 on it, the
card is updated, and the teacher is told."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.models import Application, ApprovalTask
from tests.bot.channels.dingtalk.conftest import Bot, card_row
from tests.fakes.dingtalk import FakeCard

TEACHER = "zhang_t"      # 张老师, 文学院 (DingTalk userids equal the demo directory's ids)
HEAD = "li_dean"         # 李院长, head of 文学院
LEAVE = ("我要请假", "病假", "明天", "2", "发烧就医，需在家休息", "无", "否", "13800000000")


async def fill_leave(bot: Bot) -> list[str]:
    for answer in LEAVE:
        await bot.say(TEACHER, answer)
    return await bot.say(TEACHER, "确认")


def only_card(bot: Bot, user: str) -> FakeCard:
    cards = bot.fake.cards_to(user)
    assert len(cards) == 1, cards
    return cards[0]


async def test_leave_approved_by_a_tap_on_the_card(bot: Bot) -> None:
    submitted = await fill_leave(bot)
    assert "已提交" in submitted[0] and "李院长" in submitted[0]
    card = only_card(bot, HEAD)
    assert card.callback_type == "STREAM"
    assert card.data["title"] == "张老师的教职工请销假审批"
    assert "**请假类型**：病假" in card.data["facts"]
    assert card.data["decided"] == "false"
    assert (await card_row(card.out_track_id)).user_id == HEAD

    ack = await bot.tap(card, HEAD, "approve")
    assert ack["code"] == 200
    assert card.decided and card.data["status"].startswith("已同意（李院长")
    assert card.data["buttons"] == "[]"
    told = bot.fake.texts(TEACHER)[-1]
    assert "李院长已同意" in told and "销假" in told
    assert (await Application.get(applicant_id=TEACHER)).status == "followup"


async def test_rejection_with_a_reason(bot: Bot) -> None:
    await fill_leave(bot)
    card = only_card(bot, HEAD)
    await bot.tap(card, HEAD, "reject")
    assert "驳回理由" in bot.fake.texts(HEAD)[-1]
    assert not card.decided                      # nothing decided until the reason comes
    done = await bot.say(HEAD, "期末考试周，请调整时间")
    assert "已驳回" in done[-1]
    assert card.decided and card.data["status"].startswith("已驳回（李院长")
    assert card.data["reason"] == "期末考试周，请调整时间"
    told = bot.fake.texts(TEACHER)[-1]
    assert "驳回" in told and "期末考试周，请调整时间" in told
    assert (await Application.get(applicant_id=TEACHER)).status == "rejected"


async def test_a_tap_by_someone_else_changes_nothing(
        bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    await fill_leave(bot)
    card = only_card(bot, HEAD)
    before = dict(card.data)
    # the card was forwarded, or someone replays the callback with their own id
    ack = await bot.tap(card, TEACHER, "approve")
    assert ack["code"] == 200
    assert card.data == before and card.updates == 0
    assert (await ApprovalTask.get()).status == "pending"
    assert (await Application.get(applicant_id=TEACHER)).status != "followup"
    assert not any("已同意" in t for t in bot.fake.texts(TEACHER))


def test_the_shipped_template_declares_every_variable_the_bot_fills() -> None:
    import json
    from importlib import resources

    from bot.channels.dingtalk import cards

    template = json.loads(resources.files("bot.channels.dingtalk").joinpath(
        "approval_card.json").read_text("utf-8"))
    declared = {v["name"] for v in template["variables"]}
    card = {"title": "t", "subtitle": "s", "facts": [["a", "b"]],
            "buttons": [{"key": "approve", "text": "同意", "style": "primary"}]}
    assert set(cards.param_map(card)) == declared
    assert set(cards.decided_map({"status": "x"})) <= declared
    assert set(cards.COMMANDS) <= set(template["actions"]) | {"acknowledge"}


async def test_a_card_whose_answer_was_lost_is_not_shown_twice(bot: Bot) -> None:
    bot.fake.lose_answers["/v1.0/card/instances/createAndDeliver"] = 1
    await fill_leave(bot)
    for _ in range(5):           # the outbox retries the card after its backoff
        bot.clock.advance(timedelta(seconds=5))
        await bot.settle()
    card = only_card(bot, HEAD)  # the retry reused the outTrackId: DingTalk kept one card
    deliveries = [status for path, status in bot.fake.calls
                  if path == "/v1.0/card/instances/createAndDeliver"]
    assert deliveries == [200, 400]   # made, then refused as existing
    assert (await card_row(card.out_track_id)).sent_at is not None
    await bot.tap(card, HEAD, "approve")
    assert card.decided


async def test_a_tap_delivered_again_decides_once(bot: Bot) -> None:
    await fill_leave(bot)
    card = only_card(bot, HEAD)
    connection = await bot.connection()
    for message_id in ("tap-1", "tap-1", "tap-2"):   # the same frame twice, then a new frame
        await bot.fake.tap(card.out_track_id, HEAD, "approve", to=[connection],
                           message_id=message_id)
        assert (await connection.ack_of(message_id))["code"] == 200
        await bot.settle()
    assert card.decided and card.data["status"].startswith("已同意（李院长")
    assert sum("李院长已同意" in t for t in bot.fake.texts(TEACHER)) == 1
    assert sum("已同意编号" in t for t in bot.fake.texts(HEAD)) == 1
    assert (await ApprovalTask.get()).status == "approved"
