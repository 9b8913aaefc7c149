"""Tappable choices on WeCom: a question with options goes out as a card (buttons, or a vote
for longer lists), a tap comes back as the option's words with the question's key, and the
card then shows the choice. Typing still works; a list no card can hold goes out as text."""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import TestClient

from bot.channels.wecom.cards import choices_card, choices_layout
from bot.channels.wecom.limits import weight
from flows.incoming import Incoming
from flows.messages import Choices
from storage import outbox
from storage.models import Application, InboundEvent
from tests.bot.channels.wecom.conftest import Bot, card_row
from tests.bot.channels.wecom.test_approval import TEACHER
from tests.conftest import START
from tests.fakes.wecom import FakeCard
from tests.fakes.wecom_callbacks import CardNotClickable

LEAVE_TYPES = ("事假", "病假", "年休假", "婚假", "产假", "陪产假", "丧假", "探亲假")
TYPE_QUESTION = Choices("（1/8）请选择请假类型：\n可以直接点选，也可以回复名称。", LEAVE_TYPES,
                        key="q-leave_type")
YES_NO = Choices("是否离开本市？", ("是", "否"), key="q-leaves_city")


async def ask(bot: Bot, question: Choices, user: str = TEACHER) -> FakeCard:
    """A question with choices put on the outbox as a turn would; it reaches WeCom as a card."""
    before = set(bot.fake.cards)
    await outbox.enqueue(channel="wecom", user_id=user, payload=question.payload(),
                         now=bot.clock.now())
    await bot.settle()
    return newest_card(bot, before)


def newest_card(bot: Bot, before: set[str]) -> FakeCard:
    new = [card for task_id, card in bot.fake.cards.items() if task_id not in before]
    assert len(new) == 1, new
    return new[0]


def test_few_short_options_are_buttons_and_longer_lists_a_vote() -> None:
    card = choices_card(YES_NO.payload(), "c1")
    assert card is not None and card.intro is None
    assert card.card["card_type"] == "button_interaction"
    assert card.card["main_title"] == {"title": "是否离开本市？"}
    assert [(b["text"], b["key"]) for b in card.card["button_list"]] == [("是", "o0"),
                                                                          ("否", "o1")]
    vote = choices_card(TYPE_QUESTION.payload(), "c2")
    assert vote is not None and vote.card["card_type"] == "vote_interaction"
    assert vote.card["sub_title_text"] == "可以直接点选，也可以回复名称。"
    assert [o["text"] for o in vote.card["checkbox"]["option_list"]] == list(LEAVE_TYPES)
    assert vote.card["checkbox"]["mode"] == 0                   # one answer


def test_what_no_card_holds_goes_out_as_text() -> None:
    rooms = Choices("请选择教室：", tuple(f"文科楼{n}室" for n in range(101, 125)), key="q")
    long_option = Choices("请选择：", ("是", "这是一个超过十七个字的非常非常长的选项文字"), key="q")
    assert choices_layout(rooms.payload()) is None            # 24 options: more than 20
    assert choices_layout(long_option.payload()) is None
    assert weight(rooms.payload()) == 1                        # one text names them
    long_question = Choices("请选择" + "很长的说明" * 10, ("是", "否"), key="q")
    rendered = choices_card(long_question.payload(), "c3")
    assert rendered is not None and rendered.intro == long_question.text   # said whole first
    assert rendered.card["main_title"]["title"] == "请点选："
    assert weight(long_question.payload()) == 2


async def test_a_tapped_option_answers_the_question_and_the_card_shows_it(bot: Bot) -> None:
    asked = await bot.say(TEACHER, "我要请假")
    card = bot.fake.cards_to(TEACHER)[-1]                   # the dialog's own question
    assert card.card["card_type"] == "vote_interaction"     # eight leave types
    assert card.card["main_title"]["title"].endswith("请填写请假类型：")
    assert "1. 事假" not in card.card.get("sub_title_text", "")   # the options are on the card
    assert any("请假类型" in text for text in asked)
    delivery = await bot.wecom.vote(TEACHER, card.task_id, ["o1"])
    assert delivery.statuses == [200]
    await bot.settle()
    assert card.replaced == {TEACHER: "已选：病假"}
    event = await InboundEvent.filter(channel="wecom").order_by("-id").first()
    assert event is not None
    incoming = Incoming.from_payload(event.payload)
    assert (incoming.kind, incoming.text) == ("text", "病假")
    assert incoming.card_key == (await card_row(card.task_id)).card_key
    application = await Application.get(applicant_id=TEACHER)
    assert application.form["leave_type"] == "病假"           # the dialog took the answer
    assert "开始日期" in bot.fake.read(TEACHER)[-1]              # and asked the next question
    with pytest.raises(CardNotClickable):
        bot.wecom.vote_xml(TEACHER, card.task_id, ["o0"])


async def test_buttons_answer_too_and_typing_still_works(bot: Bot) -> None:
    for answer in ("我要请假", "病假", "明天", "2", "发烧就医，需在家休息", "无"):
        await bot.say(TEACHER, answer)                      # typed, with cards on the screen
    card = bot.fake.cards_to(TEACHER)[-1]
    assert [b["text"] for b in card.card["button_list"]] == ["是", "否"]
    await bot.wecom.tap(TEACHER, card.task_id, "o1")
    await bot.settle()
    assert card.replaced == {TEACHER: "已选：否"}
    assert (await Application.get(applicant_id=TEACHER)).form["leaves_city"] is False
    assert "联系电话" in bot.fake.read(TEACHER)[-1]
    # the same question asked again (the user went back) is a card of its own
    before = set(bot.fake.cards)
    await bot.say(TEACHER, "返回")
    again = newest_card(bot, before)
    assert again.card["main_title"]["title"].endswith("请填写是否离开本市：")
    assert again.task_id != card.task_id


async def test_a_repeated_tap_has_one_effect(bot: Bot) -> None:
    await bot.say(TEACHER, "我要请假")
    card = bot.fake.cards_to(TEACHER)[-1]
    xml = bot.wecom.vote_xml(TEACHER, card.task_id, ["o0"])
    await bot.wecom.deliver(xml)
    await bot.wecom.deliver(xml)            # WeCom delivered the same callback again
    await bot.settle()
    key = (await card_row(card.task_id)).card_key
    taps = [e for e in await InboundEvent.filter(channel="wecom")
            if e.payload.get("card_key") == key]
    assert len(taps) == 1
    assert sum("已选" in v for v in card.replaced.values()) == 1
    assert (await Application.get(applicant_id=TEACHER)).form["leave_type"] == "事假"


async def test_a_tap_by_someone_else_or_on_no_option_is_ignored(
        bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    card = await ask(bot, YES_NO)
    before = await InboundEvent.all().count()
    with caplog.at_level(logging.WARNING, logger="campusbot"):
        await bot.wecom.tap("li_dean", card.task_id, "o0", forged=True)
        await bot.wecom.tap(TEACHER, card.task_id, "o9")
        await bot.settle()
    assert "tapped by someone else" in caplog.text and "ignored" in caplog.text
    assert await InboundEvent.all().count() == before
    assert card.replaced == {}


async def test_options_no_card_holds_reach_the_user_as_the_questions_text(bot: Bot) -> None:
    rooms = Choices("请选择教室：文科楼101室…文科楼124室，回复名称即可。",
                    tuple(f"文科楼{n}室" for n in range(101, 125)), key="q-room")
    await outbox.enqueue(channel="wecom", user_id=TEACHER, payload=rooms.payload(),
                         now=bot.clock.now())
    await bot.settle()
    assert bot.fake.texts(TEACHER) == [rooms.text]
    assert bot.fake.cards_to(TEACHER) == []


async def test_the_simulator_hands_choices_to_its_page_unchanged(client: TestClient) -> None:
    payload = YES_NO.payload()
    await outbox.enqueue(channel="sim", user_id=TEACHER, payload=payload, now=START)
    response = await client.get("/sim/api/inbox", params={"user": TEACHER})
    assert (await response.json())["replies"] == [payload]
