"""Leave requests and their approval done entirely through WeCom's protocol: the teacher's
encrypted text callbacks, the card to the approver, the tap, the card updated for everyone who
got it, and the teacher told — all over real HTTP between campusbot and the fake WeCom."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from importlib import resources
from pathlib import Path

import pytest

from bot.clock import FixedClock
from bot.config import Settings
from storage.models import Application
from tests.bot.channels.wecom.conftest import Bot, card_row, start_bot, task_of, wecom_section
from tests.conftest import needs_dot, wipe_database
from tests.fakes.wecom import FakeCard, FakeWecom
from tests.fakes.wecom_callbacks import CardNotClickable, WecomCallbacks

TEACHER = "zhang_t"      # 张老师, 文学院
HEAD = "li_dean"         # 李院长, head of 文学院
HR_HEAD = "hr_chen"      # 陈处长, head of 人事处


async def fill_leave(bot: Bot, days: str, *, confirm: bool = True) -> list[str]:
    for answer in ("我要请假", "病假", "明天", days, "发烧就医，需在家休息", "无", "否"):
        await bot.say(TEACHER, answer)
    summary = await bot.say(TEACHER, "13800000000")
    return await bot.say(TEACHER, "确认") if confirm else summary


def only_card(bot: Bot, user: str) -> FakeCard:
    cards = bot.fake.cards_to(user)
    assert len(cards) == 1, cards
    return cards[0]


async def test_leave_request_and_approval_through_wecom(bot: Bot) -> None:
    submitted = await fill_leave(bot, "2")
    assert "已提交" in submitted[0] and "李院长" in submitted[0]
    card = only_card(bot, HEAD)
    body = card.card
    assert body["main_title"]["title"] == "张老师的教职工请销假审批"
    assert [b["text"] for b in body["button_list"]] == ["同意", "驳回", "退回修改", "转交", "加签"]
    assert {"keyname": "请假类型", "value": "病假"} in body["horizontal_content_list"]
    assert "是否离开本市：否" in body["sub_title_text"]     # a 6-character label, kept whole

    tap = await bot.wecom.tap(HEAD, card.task_id, "approve")
    assert tap.statuses == [200]
    await bot.settle()
    assert card.replaced == {HEAD: "已同意（李院长 11-26 09:00）"}
    assert any("已同意编号" in t for t in bot.fake.texts(HEAD))
    told = bot.fake.texts(TEACHER)[-1]
    assert "李院长已同意" in told and "销假" in told
    application = await Application.get(applicant_id=TEACHER)
    assert application.status == "followup"
    with pytest.raises(CardNotClickable):   # WeCom greyed the buttons out
        bot.wecom.tap_xml(HEAD, card.task_id, "approve")


async def test_five_day_leave_reaches_the_hr_head_after_the_department_head(bot: Bot) -> None:
    await fill_leave(bot, "5")
    head_card = only_card(bot, HEAD)
    assert not bot.fake.cards_to(HR_HEAD)
    await bot.wecom.tap(HEAD, head_card.task_id, "approve")
    await bot.settle()
    assert head_card.replaced[HEAD].startswith("已同意（李院长")
    hr_card = only_card(bot, HR_HEAD)
    assert hr_card.card["sub_title_text"].startswith("人事处审核")
    assert "人事处" in bot.fake.texts(TEACHER)[-1]
    await bot.wecom.tap(HR_HEAD, hr_card.task_id, "approve")
    await bot.settle()
    assert hr_card.replaced[HR_HEAD].startswith("已同意（陈处长")
    told = bot.fake.texts(TEACHER)[-1]
    assert "陈处长已同意" in told and "销假" in told


async def test_rejection_with_a_reason(bot: Bot) -> None:
    await fill_leave(bot, "2")
    card = only_card(bot, HEAD)
    await bot.wecom.tap(HEAD, card.task_id, "reject")
    await bot.settle()
    assert "驳回理由" in bot.fake.texts(HEAD)[-1]
    assert card.replaced == {}                    # nothing decided yet
    done = await bot.say(HEAD, "期末考试周，请调整时间")
    assert "已驳回" in done[-1]
    assert card.replaced[HEAD].startswith("已驳回（李院长")
    told = bot.fake.texts(TEACHER)[-1]
    assert "驳回" in told and "期末考试周，请调整时间" in told
    assert (await Application.get(applicant_id=TEACHER)).status == "rejected"


async def test_a_late_tap_on_a_decided_card_gets_the_final_state(bot: Bot) -> None:
    await fill_leave(bot, "2")
    card = only_card(bot, HEAD)
    await bot.wecom.tap(HEAD, card.task_id, "approve")
    await bot.turns_done()
    # the approver taps again before the card update reached their phone
    await bot.wecom.tap(HEAD, card.task_id, "reject", late=True)
    await bot.settle()
    assert card.replaced[HEAD].startswith("已同意（李院长")  # the final state, still with who
    late = next(t for t in bot.fake.texts(HEAD) if "无需重复操作" in t)
    assert "已同意（您，11月26日 09:00）" in late            # what happened, by whom, when
    assert not any("驳回理由" in t for t in bot.fake.texts(HEAD))
    assert (await Application.get(applicant_id=TEACHER)).status == "followup"
    # a tap after the card was updated everywhere (an old client) changes nothing either
    await bot.wecom.tap(HEAD, card.task_id, "approve", late=True)
    await bot.settle()
    assert sum("已同意编号" in t for t in bot.fake.texts(HEAD)) == 1
    assert (await task_of(card.task_id)).status == "approved"


async def test_a_tap_by_someone_else_changes_nothing_and_is_logged(
        bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    await fill_leave(bot, "2")
    card = only_card(bot, HEAD)
    codes_before = (await card_row(card.task_id)).state
    with caplog.at_level(logging.WARNING, logger="campusbot"):
        await bot.wecom.tap(TEACHER, card.task_id, "approve", forged=True)
        await bot.settle()
    assert "card tap by someone else" in caplog.text
    assert any("不是发给您的" in t for t in bot.fake.texts(TEACHER))
    assert (await task_of(card.task_id)).status == "pending"
    assert (await card_row(card.task_id)).state == codes_before  # not their code on his card
    assert card.replaced == {}
    await bot.wecom.tap(HEAD, card.task_id, "approve")   # the head can still decide
    await bot.settle()
    assert card.replaced[HEAD].startswith("已同意")


async def test_transfer_sends_a_new_card_and_closes_the_old_one(bot: Bot) -> None:
    await fill_leave(bot, "2")
    card = only_card(bot, HEAD)
    await bot.wecom.tap(HEAD, card.task_id, "transfer")
    await bot.settle()
    await bot.say(HEAD, "陈处长")
    assert "理由" in bot.fake.texts(HEAD)[-1]            # a transfer needs a reason
    await bot.say(HEAD, "人事处负责此类请假")
    assert card.replaced[HEAD] == "已转交给陈处长"
    new_card = only_card(bot, HR_HEAD)
    await bot.wecom.tap(HR_HEAD, new_card.task_id, "approve")
    await bot.settle()
    assert new_card.replaced[HR_HEAD].startswith("已同意（陈处长")
    assert "陈处长已同意" in bot.fake.texts(TEACHER)[-1]


async def test_greeting_menu_and_non_text_messages(bot: Bot) -> None:
    await bot.wecom.event(TEACHER, "enter_agent")
    await bot.settle()
    assert "网上办事大厅助手" in bot.fake.texts(TEACHER)[-1]
    bot.clock.advance(timedelta(hours=2))
    await bot.wecom.event(TEACHER, "enter_agent")          # at most once a day
    await bot.settle()
    assert len(bot.fake.texts(TEACHER)) == 1
    await bot.wecom.event(TEACHER, "click", "menu_tasks")
    await bot.wecom.event(TEACHER, "click", "menu_mine")
    await bot.settle()
    assert "还没有提交过申请" in bot.fake.texts(TEACHER)[-1]
    for kind, fields in (("voice", {"MediaId": "v", "Format": "amr"}),
                         ("location", {"Location_X": "1", "Location_Y": "2", "Scale": 1,
                                       "Label": "x"})):
        await bot.wecom.other(TEACHER, kind, **fields)
        await bot.settle()
        assert "请直接打字" in bot.fake.texts(TEACHER)[-1]
    await bot.wecom.image(TEACHER)
    await bot.settle()
    assert "收到文件" in bot.fake.texts(TEACHER)[-1]


async def test_a_picture_answers_a_question_that_asks_for_one(bot: Bot) -> None:
    for answer in ("我要报修电脑", "行政楼 305 室", "网络", "办公室有线网络连不上，网线灯不亮"):
        await bot.say(TEACHER, answer)
    assert "故障照片" in bot.fake.texts(TEACHER)[-1]
    await bot.wecom.image(TEACHER)
    await bot.settle()
    assert "联系电话" in bot.fake.texts(TEACHER)[-1]
    application = await Application.get(applicant_id=TEACHER)
    assert application.form["photo"]["media_id"] == "img-media-1"


@needs_dot
async def test_flowchart_goes_up_as_media_and_comes_as_a_picture(bot: Bot) -> None:
    await bot.say(TEACHER, "请假怎么办理")
    await bot.say(TEACHER, "流程图")
    sent = bot.fake.to(TEACHER)[-2:]
    assert [d.msgtype for d in sent] == ["text", "image"]
    assert "流程图" in sent[0].text
    assert bot.fake.media[sent[1].body["media_id"]].startswith(b"\x89PNG")
    await bot.say(TEACHER, "流程图")                        # uploaded once, sent again
    assert bot.fake.count("media/upload") == 1
    bot.clock.advance(timedelta(days=3))                  # WeCom keeps media for 3 days
    await bot.say(TEACHER, "流程图")
    assert bot.fake.count("media/upload") == 2


@pytest.fixture
async def two_it_support(tmp_path: Path, settings_factory: Callable[..., Settings],
                         clock: FixedClock, database_url: str,
                         fake_wecom: FakeWecom) -> AsyncIterator[Bot]:
    """The demo directory with a second IT support engineer: repairs go to both."""
    demo = resources.files("storage").joinpath("demo_directory.toml").read_text("utf-8")
    extra = ('\n[[users]]\nid = "it_ma"\nname = "马工"\ndepartment = "itc"\n'
             'roles = ["staff", "it_support"]\ntitle = "信息中心运维岗"\n')
    path = tmp_path / "directory.toml"
    path.write_text(demo + extra, encoding="utf-8")
    fake_wecom.members["it_ma"] = {"userid": "it_ma", "name": "马工", "department": [1],
                                   "status": 1}
    settings = settings_factory(wecom=wecom_section(fake_wecom.url),  # type: ignore[attr-defined]
                                simulator={"enabled": False}, directory={"file": str(path)})
    await wipe_database(database_url)
    app, client = await start_bot(settings, clock, fake_wecom)
    callbacks = WecomCallbacks(fake_wecom, str(client.make_url("/wecom/callback")),
                               token=settings.wecom.token,
                               encoding_aes_key=settings.wecom.encoding_aes_key)
    try:
        yield Bot(app, client, callbacks, fake_wecom, clock)
    finally:
        await callbacks.close()
        await client.close()


async def test_a_decision_updates_the_card_of_every_recipient(two_it_support: Bot) -> None:
    bot = two_it_support
    for answer in ("我要报修电脑", "行政楼 305 室", "网络", "办公室有线网络连不上，网线灯不亮",
                   "无", "13800000000", "无", "确认"):
        await bot.say(TEACHER, answer)
    xu, ma = only_card(bot, "it_xu"), only_card(bot, "it_ma")
    await bot.wecom.tap("it_ma", ma.task_id, "approve")
    await bot.settle()
    assert ma.replaced["it_ma"].startswith("已办结（马工")
    assert xu.replaced["it_xu"].startswith("已办结（马工")   # updated with its send code
    assert "马工已办结" in bot.fake.texts(TEACHER)[-1]
    assert "马工、徐工" in bot.fake.texts(TEACHER)[-2]
    # 徐工 taps his card before its update arrived: he is told who already did it, and when
    await bot.wecom.tap("it_xu", xu.task_id, "approve", late=True)
    await bot.settle()
    assert "（马工，11月26日 09:00）" in bot.fake.texts("it_xu")[-1]


async def test_the_approver_opens_an_attachment_from_the_card(bot: Bot) -> None:
    for answer in ("我要报修电脑", "行政楼 305 室", "网络", "办公室有线网络连不上，网线灯不亮"):
        await bot.say(TEACHER, answer)
    await bot.wecom.image(TEACHER)
    await bot.settle()
    for answer in ("13800000000", "无", "确认"):
        await bot.say(TEACHER, answer)
    card = only_card(bot, "it_xu")
    files = [item for item in card.card["horizontal_content_list"] if item.get("type") == 2]
    assert files == [{"keyname": "附件", "value": "图片", "type": 2, "media_id": "img-media-1"}]
    assert any("附件" in text for text in bot.fake.texts("it_xu"))   # and under the card
