"""Outbound through WeCom: errors and timeouts recovered from the persisted outbox with
nothing lost and nothing shown twice, long texts split, and WeCom's per-member limits kept."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot import keys
from bot.channels.wecom.texts import split_text
from flows.guide import guide_text
from storage import outbox
from storage.models import OutboxMessage
from tests.bot.channels.wecom.conftest import Bot, card_row
from tests.bot.channels.wecom.test_approval import HEAD, TEACHER, fill_leave, only_card
from tests.query_count import count_queries


async def queue(bot: Bot, *texts: str, user: str = TEACHER) -> None:
    for text in texts:
        await outbox.enqueue(channel="wecom", user_id=user, payload={"type": "text",
                                                                     "text": text},
                             now=bot.clock.now())


async def retry_until_sent(bot: Bot, rounds: int = 6) -> None:
    for _ in range(rounds):
        await bot.sender.deliver_due()
        bot.clock.advance(timedelta(minutes=1))


async def statuses() -> list[str]:
    return [m.status for m in await OutboxMessage.all().order_by("id")]


@pytest.mark.parametrize("fault", [
    {"errcode": -1},                       # 系统繁忙
    {"errcode": 45009},                    # frequency limit
    {"http_status": 502},                  # a proxy in front of WeCom
    {"hang": True},                        # no answer: timeout before WeCom saw it
])
async def test_errors_and_timeouts_are_retried_with_backoff(bot: Bot, fault: dict) -> None:
    bot.api_timeout(0.05)
    bot.fake.fault("message/send", times=2, **fault)
    await queue(bot, "您的申请已提交", "下一步：部门负责人审批")
    await bot.sender.deliver_due()
    assert bot.fake.texts(TEACHER) == []
    row = await OutboxMessage.filter(status="pending").order_by("id").first()
    assert row is not None and row.attempts == 1 and row.next_try_at > bot.clock.now()
    await retry_until_sent(bot)
    assert bot.fake.texts(TEACHER) == ["您的申请已提交", "下一步：部门负责人审批"]  # in order
    assert await statuses() == ["sent", "sent"]


async def test_a_lost_answer_is_not_shown_twice(bot: Bot) -> None:
    bot.api_timeout(0.05)
    bot.fake.fault("message/send", hang=True, after_effect=True)   # sent, answer lost
    await queue(bot, "您的申请已提交")
    await bot.sender.deliver_due()
    assert bot.fake.texts(TEACHER) == ["您的申请已提交"]
    assert await statuses() == ["pending"]                        # we could not know
    await retry_until_sent(bot)
    assert bot.fake.texts(TEACHER) == ["您的申请已提交"]           # WeCom dropped the repeat
    assert await statuses() == ["sent"]


async def test_a_card_whose_sending_was_not_recorded_is_not_shown_twice(bot: Bot) -> None:
    await fill_leave(bot, "2")                     # the head's card went out …
    card = await OutboxMessage.get(user_id=HEAD)
    assert card.status == "sent" and len(bot.fake.cards_to(HEAD)) == 1
    # … but the database connection was lost before the outbox row was marked: it is retried
    await OutboxMessage.filter(id=card.id).update(status="pending", next_try_at=bot.clock.now())
    await retry_until_sent(bot)
    assert await statuses() == ["sent"] * len(await statuses())
    assert len(bot.fake.cards_to(HEAD)) == 1


async def test_the_same_words_sent_again_later_are_shown_again(bot: Bot) -> None:
    await bot.say(TEACHER, "帮助")
    await bot.say(TEACHER, "帮助")
    assert len(bot.fake.texts(TEACHER)) == 2
    assert bot.fake.texts(TEACHER)[0] == bot.fake.texts(TEACHER)[1]


async def test_a_permanent_error_is_not_retried(bot: Bot) -> None:
    await queue(bot, "给不存在的人", user="left_the_school")        # 81013: no valid recipient
    await queue(bot, "给张老师")
    await bot.sender.deliver_due()
    await retry_until_sent(bot)
    rows = {m.user_id: m for m in await OutboxMessage.all()}
    assert rows["left_the_school"].status == "failed"
    assert rows["left_the_school"].attempts == 1
    assert "81013" in rows["left_the_school"].last_error
    assert rows[TEACHER].status == "sent"


async def test_a_long_guide_is_split_within_2048_bytes_and_sent_in_order(bot: Bot) -> None:
    definition = max(bot.app[keys.ENGINE].catalog.all(),
                     key=lambda d: len(guide_text(d, can_apply=True).encode()))
    text = guide_text(definition, can_apply=True)
    assert len(text.encode()) > 2048
    await queue(bot, text)
    await bot.sender.deliver_due()
    parts = bot.fake.texts(TEACHER)
    assert len(parts) >= 2
    assert all(len(p.encode()) <= 2048 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


async def test_a_failure_between_parts_repeats_none_of_them(bot: Bot) -> None:
    definition = max(bot.app[keys.ENGINE].catalog.all(),
                     key=lambda d: len(guide_text(d, can_apply=True).encode()))
    text = guide_text(definition, can_apply=True)
    first, second = split_text(text)[:2]
    marker = max((line for line in second.splitlines() if line not in first), key=len)
    bot.fake.fault("message/send", errcode=-1, match=marker)       # part 1 goes, 2 fails
    await queue(bot, text)
    await bot.sender.deliver_due()
    assert len(bot.fake.texts(TEACHER)) == 1
    await retry_until_sent(bot)
    assert bot.fake.texts(TEACHER) == split_text(text)   # the retry's first part was dropped


async def test_thirty_wecom_messages_a_minute_per_member(bot: Bot) -> None:
    await queue(bot, *(f"第 {n} 条" for n in range(1, 41)))
    while await bot.sender.deliver_due():
        pass
    assert len(bot.fake.texts(TEACHER)) == 30
    bot.clock.advance(timedelta(seconds=61))
    for _ in range(5):
        await bot.sender.deliver_due()
        bot.clock.advance(timedelta(seconds=1))
    assert bot.fake.texts(TEACHER) == [f"第 {n} 条" for n in range(1, 41)]
    await queue(bot, "给别人的不受影响", user=HEAD)
    await bot.sender.deliver_due()
    assert bot.fake.texts(HEAD) == ["给别人的不受影响"]


async def test_split_texts_count_as_several_messages(bot: Bot) -> None:
    long_text = "请假须知。" * 200                        # 3,000 bytes: two WeCom messages
    await queue(bot, *([long_text] * 20))
    for _ in range(30):
        await bot.sender.deliver_due()
        bot.clock.advance(timedelta(seconds=1))
    assert len(bot.fake.texts(TEACHER)) == 30             # 15 rows, 30 messages in the minute
    for _ in range(120):
        await bot.sender.deliver_due()
        bot.clock.advance(timedelta(seconds=1))
    assert len(bot.fake.texts(TEACHER)) == 40
    assert await OutboxMessage.filter(status="failed").count() == 0


async def test_a_lost_answer_to_a_card_update_does_not_fall_back_to_text(bot: Bot) -> None:
    await fill_leave(bot, "2")
    card = only_card(bot, HEAD)
    bot.api_timeout(0.05)
    bot.fake.fault("message/update_template_card", hang=True, after_effect=True)
    await bot.wecom.tap(HEAD, card.task_id, "approve")
    await bot.settle()
    assert card.replaced[HEAD].startswith("已同意")        # it did go through
    await retry_until_sent(bot)
    assert not any("审批卡片" in t for t in bot.fake.texts(HEAD))
    assert await OutboxMessage.filter(status__in=["pending", "failed"]).count() == 0
    codes = (await card_row(card.task_id)).state
    assert codes and "~" not in codes                      # the send code is left


async def test_an_expired_response_code_falls_back_to_a_text(bot: Bot) -> None:
    await fill_leave(bot, "2")
    card = only_card(bot, HEAD)
    await bot.wecom.tap(HEAD, card.task_id, "approve")
    await bot.turns_done()
    bot.clock.advance(timedelta(hours=73))                 # WeCom's codes last 72 hours
    await bot.settle()
    assert card.replaced == {}
    assert any("审批卡片（编号 #1）已同意" in t for t in bot.fake.texts(HEAD))


async def test_a_card_whose_answer_was_lost_is_not_sent_twice(bot: Bot) -> None:
    await fill_leave(bot, "1", confirm=False)
    bot.api_timeout(0.05)
    bot.fake.fault("message/send", hang=True, after_effect=True, match='"touser":"li_dean"')
    await bot.wecom.text(TEACHER, "确认")
    await bot.settle()
    assert len(bot.fake.cards_to(HEAD)) == 1               # delivered, answer lost
    assert await OutboxMessage.filter(user_id=HEAD, status="pending").count() == 1
    await retry_until_sent(bot)
    assert [d.msgtype for d in bot.fake.to(HEAD)] == ["template_card"]   # not twice
    assert await OutboxMessage.filter(status__in=["pending", "failed"]).count() == 0
    card = only_card(bot, HEAD)
    await bot.wecom.tap(HEAD, card.task_id, "approve")     # the tap's own code updates it
    await bot.settle()
    assert card.replaced[HEAD].startswith("已同意")


async def test_identical_messages_in_flight_on_two_replicas_are_both_shown(bot: Bot) -> None:
    """Two replicas deliver the same words to one user at once: neither may be taken for a
    repeat of the other by WeCom's duplicate check."""
    await queue(bot, "您的申请已提交", "您的申请已提交")
    claimed = await outbox.claim_due(bot.clock.now(), ["wecom"], owner="test")
    assert len(claimed) == 2
    await asyncio.gather(*(bot.channel.send(m.user_id, m.payload) for m in claimed))
    assert bot.fake.texts(TEACHER) == ["您的申请已提交", "您的申请已提交"]


async def test_an_unusable_code_gives_way_to_the_cards_next_one(bot: Bot) -> None:
    await fill_leave(bot, "2")
    card = only_card(bot, HEAD)
    await bot.wecom.tap(HEAD, card.task_id, "approve")
    await bot.turns_done()
    tap_code = list(bot.fake.codes)[-1]                 # issued with the tap, tried first
    bot.fake.codes[tap_code].used = True            # e.g. consumed by a replaced replica
    await bot.settle()
    assert card.replaced[HEAD].startswith("已同意")  # with the code from message/send
    assert not any("审批卡片" in t for t in bot.fake.texts(HEAD))


async def test_a_claims_deliveries_read_their_limits_and_accounts_in_one_query(
        bot: Bot) -> None:
    people = [TEACHER, HEAD, "hr_chen", "sec_liu", "vp_wu"]
    for person in people:
        await queue(bot, f"给{person}的第一条", f"给{person}的第二条", user=person)
    with count_queries() as counted:
        assert await bot.sender.deliver_due() == 10
    for person in people:
        assert bot.fake.texts(person) == [f"给{person}的第一条", f"给{person}的第二条"]
    # one read of every member's last hour and account, not one per message
    assert sum("FROM wanted" in q and "outbox" in q for q in counted.sql) == 1, counted.sql
