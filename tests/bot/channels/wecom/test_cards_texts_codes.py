"""The pieces under the channel: cards within WeCom's limits, texts within 2048 bytes, and the
single-use response codes of each card."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.channels.wecom import codes
from bot.channels.wecom.cards import TASK_ID as TASK_ID_PATTERN
from bot.channels.wecom.cards import (
    CardError,
    decided_buttons,
    new_task_id,
    template_card,
)
from bot.channels.wecom.limits import weight
from bot.channels.wecom.texts import split_text
from bot.clock import FixedClock
from flows.messages import Button, Card
from storage import channel_cards
from storage.models import ChannelCard

APPROVE = (Button("approve", "同意"), Button("reject", "驳回", "danger"),
           Button("transfer", "转交", "default"))


def card(**changes: Any) -> dict[str, Any]:
    base = Card(card_key="a12-0f3c9e1d2b4a", title="张老师的教职工请销假审批",
                subtitle="部门负责人审批 · 编号 #12",
                facts=(("申请人", "张老师"), ("请假类型", "病假")), buttons=APPROVE).payload()
    return {**base, **changes}


TASK_ID = "c0f3c9e1d2b4a"


def test_an_approval_card_as_button_interaction() -> None:
    result = template_card(card(), TASK_ID)
    assert result == {
        "card_type": "button_interaction",
        "source": {"desc": "网上办事大厅", "desc_color": 0},
        "main_title": {"title": "张老师的教职工请销假审批"},
        "horizontal_content_list": [{"keyname": "申请人", "value": "张老师"},
                                    {"keyname": "请假类型", "value": "病假"}],
        "task_id": TASK_ID,
        "button_list": [{"text": "同意", "style": 1, "key": "approve"},
                        {"text": "驳回", "style": 3, "key": "reject"},
                        {"text": "转交", "style": 2, "key": "transfer"}],
        "sub_title_text": "部门负责人审批 · 编号 #12",
    }


def test_everything_is_kept_within_wecoms_limits() -> None:
    facts = [["申请人", "张老师"], ["外出联系电话", "13800000000"], ["事由", "很长" * 40],
             ["a", "1"], ["b", "2"], ["c", "3"], ["d", "4"], ["e", "5"]]
    result = template_card(card(
        title="报告会、研讨会、讲座和论坛活动审批" * 3, facts=facts, source="网上办事大厅" * 5,
        buttons=[{"key": f"k{i}", "text": "非常非常非常长的按钮文字", "style": "odd"}
                 for i in range(6)]), TASK_ID)
    assert len(result["main_title"]["title"]) == 36 and result["main_title"]["title"][-1] == "…"
    assert len(result["source"]["desc"]) <= 20
    listed = result["horizontal_content_list"]
    assert len(listed) == 6
    assert all(len(f["keyname"]) <= 5 and len(f["value"]) <= 30 for f in listed)
    # a long label is not cut into nonsense: the whole fact moves to the sub title
    assert "外出联系电话：13800000000" in result["sub_title_text"]
    assert "e：5" in result["sub_title_text"]                # the seventh fact too
    assert len(result["sub_title_text"]) <= 160
    # an unknown style falls back to WeCom's default blue
    assert all(len(b["text"]) <= 10 and b["style"] == 1 for b in result["button_list"])


@pytest.mark.parametrize("changes", [
    {"buttons": []},
    {"buttons": [{"key": f"k{i}", "text": "t"} for i in range(7)]},
    {"buttons": [{"key": "same", "text": "a"}, {"key": "same", "text": "b"}]},
    {"buttons": [{"key": "k" * 1025, "text": "a"}]},
])
def test_cards_wecom_would_refuse_are_refused_here(changes: dict[str, Any]) -> None:
    with pytest.raises(CardError):
        template_card(card(**changes), TASK_ID)


@pytest.mark.parametrize("task_id", ["a12 with spaces", "卡片", "x" * 129, ""])
def test_task_ids_wecom_would_refuse_are_refused_here(task_id: str) -> None:
    with pytest.raises(CardError):
        template_card(card(), task_id)


def test_any_neutral_card_key_gets_a_fresh_task_id_wecom_accepts() -> None:
    # keys need not fit WeCom's alphabet: the card is sent under a task_id of its own
    result = template_card(card(card_key="审批:12/卡片 一"), new_task_id())
    ids = {new_task_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(TASK_ID_PATTERN.fullmatch(i) for i in {*ids, result["task_id"]})


def test_the_decision_greys_out_the_buttons() -> None:
    assert decided_buttons("已同意（李院长 11-26 09:00）") == {
        "replace_name": "已同意（李院长 11-26 09:00）"}
    assert len(decided_buttons("已同意（" + "很长的意见" * 10 + "）")["replace_name"]) == 24


def test_short_texts_are_one_message() -> None:
    assert split_text("您好") == ["您好"]
    assert split_text("") == []
    exactly = "请" * 682 + "ab"                              # 2046 + 2 = 2048 bytes
    assert split_text(exactly) == [exactly]


def test_long_texts_split_at_line_ends_within_2048_bytes() -> None:
    lines = [f"{n}. " + "办事指南的一行内容。" * 8 for n in range(1, 40)]
    text = "\n".join(lines)
    parts = split_text(text)
    assert len(parts) > 1
    assert all(len(p.encode()) <= 2048 for p in parts)
    assert "\n".join(parts) == text                         # nothing lost or reordered
    assert all(p.split("\n")[0][0].isdigit() for p in parts)  # each part starts at a line


def test_a_text_without_breaks_is_cut_between_characters() -> None:
    text = "办" * 3000
    parts = split_text(text)
    assert "".join(parts) == text
    assert all(len(p.encode()) <= 2048 for p in parts)


def test_weights_count_wecom_messages() -> None:
    assert weight({"type": "text", "text": "x" * 3000}) == 2
    assert weight({"type": "card"}) == 1
    assert weight({"type": "image", "caption": "流程图"}) == 2
    assert weight({"type": "card_update"}) == 0


async def sent_card(clock: FixedClock, account: str = "li_dean") -> ChannelCard:
    row, _ = await channel_cards.prepare("wecom", "a1-f00d", user_id="li_dean",
                                         external_user=account, kind="card",
                                         new_id=new_task_id, now=clock.now())
    return row


async def state(card: ChannelCard) -> str | None:
    return (await ChannelCard.get(id=card.id)).state


async def test_codes_are_taken_newest_first_and_used_once(client: TestClient,
                                                         clock: FixedClock) -> None:
    card = await sent_card(clock)
    assert await codes.claim(card.id) is None
    assert await codes.add(card.id, "send-code")
    assert await codes.add(card.id, "tap-code")
    first = await codes.claim(card.id)
    assert first == codes.Claim("tap-code", retry=False)
    # the answer to that update was lost: the retry gets the same code back
    assert await codes.claim(card.id) == codes.Claim("tap-code", retry=True)
    await codes.spend(card.id, "tap-code")
    assert await codes.claim(card.id) == codes.Claim("send-code", retry=False)
    await codes.spend(card.id, "send-code")
    assert await codes.claim(card.id) is None
    assert await state(card) is None


async def test_a_code_lands_only_on_the_tappers_own_card(client: TestClient,
                                                        clock: FixedClock) -> None:
    card = await sent_card(clock, account="LiYuan01")   # a WeCom account of its own
    assert not await codes.add(card.id, "someone-elses", tapped_by="zhang_t")
    assert not await codes.add(card.id, "by-person-id", tapped_by="li_dean")
    assert await codes.add(card.id, "heads", tapped_by="LiYuan01")
    assert await state(card) == "heads"
    assert not await codes.add(card.id, "with space")
    assert not await codes.add(card.id + 1, "x")


async def test_the_state_keeps_the_newest_codes(client: TestClient, clock: FixedClock) -> None:
    card = await sent_card(clock)
    for n in range(20):
        await codes.add(card.id, f"code{n:02d}-" + "x" * 40)
    stored = await state(card) or ""
    assert len(stored) <= 256
    assert stored.split()[-1].startswith("code19")
