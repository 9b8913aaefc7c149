"""Approval cards on DingTalk.

With a card template (`card_template_id`, imported from cards/approval_card.json into the card
builder): `card/instances/createAndDeliver`, one card instance per recipient, its `outTrackId`
drawn for the delivery and kept in channel_cards. Every value of `cardParamMap` is a string
(DingTalk's rule); the template's variables:

    title      张老师的教职工请销假审批
    subtitle   the card's sub title (stage, deadline)
    facts      the facts as markdown lines, "**请假类型**：病假"
    source     网上办事大厅
    buttons    JSON array of {"text", "action", "color"} (color: blue, gray, red); each button
               of the template's loop is a 回传请求 with the param action = ${item.action}
    status     "" while open; the outcome afterwards (已同意（李院长 11-26 09:00）)
    decided    "false" / "true": the template hides the buttons once true
    reason     a rejection's or return's reason, "" otherwise

Without a template: an ActionCard (`sampleActionCard2`…`5`, one button per action, at most 5)
whose buttons are `dtmd://dingtalkclient/sendMessage` links: a tap makes the approver's own
client send `同意 12` / `驳回 12` / …, a text command the bot understands anyway (typing it
works too). Past 5 buttons, or in a card update, plain markdown names the commands.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import quote

TITLE_MAX = 60
#: neutral button styles (flows.messages.ButtonStyle) as the template's colours
COLORS = {"primary": "blue", "default": "gray", "danger": "red"}
#: the text command each card action stands for (handlers/approvals.py)
COMMANDS = {"approve": "同意", "reject": "驳回", "return": "退回修改", "transfer": "转交",
            "add": "加签", "complete": "办结", "sign": "签收", "acknowledge": "签收"}
ACTION_CARD_BUTTONS = 5


class CardError(ValueError):
    """The card cannot be rendered (a bug in the caller, never retried)."""


def new_out_track_id() -> str:
    """An outTrackId for one delivery: never the (repeatable) neutral card key itself."""
    return "cb" + secrets.token_hex(12)


def _facts_markdown(card: dict[str, Any]) -> str:
    lines = [f"**{name}**：{value}" for name, value in card.get("facts") or []]
    for attachment in card.get("attachments") or []:
        name = attachment.get("name") or "附件"
        url = attachment.get("url")
        lines.append(f"**附件**：[{name}]({url})" if url else f"**附件**：{name}")
    return "  \n".join(lines)


def _buttons(card: dict[str, Any]) -> list[dict[str, str]]:
    buttons = card.get("buttons") or []
    if not buttons:
        raise CardError("a card needs at least one button")
    return [{"text": str(b["text"]), "action": str(b["key"]),
             "color": COLORS.get(str(b.get("style")), "blue")} for b in buttons]


def param_map(card: dict[str, Any]) -> dict[str, str]:
    """The template's variables for a neutral card payload (flows.messages.Card)."""
    title = str(card.get("title") or "审批")
    return {"title": title[:TITLE_MAX], "subtitle": str(card.get("subtitle") or ""),
            "facts": _facts_markdown(card), "source": str(card.get("source") or "网上办事大厅"),
            "buttons": json.dumps(_buttons(card), ensure_ascii=False),
            "status": "", "decided": "false", "reason": ""}


def decided_map(payload: dict[str, Any]) -> dict[str, str]:
    """The variables a card update changes (merged by key into the card's data)."""
    return {"status": str(payload.get("status") or ""), "decided": "true",
            "reason": str(payload.get("reason") or ""), "buttons": "[]"}


def deliver_body(card: dict[str, Any], *, template_id: str, out_track_id: str,
                 account: str, robot_code: str) -> dict[str, Any]:
    """The body of `POST /v1.0/card/instances/createAndDeliver` for one recipient."""
    return {
        "cardTemplateId": template_id,
        "outTrackId": out_track_id,
        "callbackType": "STREAM",
        "cardData": {"cardParamMap": param_map(card)},
        "openSpaceId": f"dtv1.card//IM_ROBOT.{account}",
        "imRobotOpenSpaceModel": {"supportForward": False, "lastMessageI18n": {
            "ZH_CN": f"[审批] {str(card.get('title') or '')[:TITLE_MAX]}"}},
        "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": robot_code},
        "userIdType": 1,
    }


def update_body(out_track_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The body of `PUT /v1.0/card/instances`: the outcome, merged by key."""
    return {"outTrackId": out_track_id, "cardData": {"cardParamMap": decided_map(payload)},
            "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
            "userIdType": 1}


def command(action: str, application_id: int | None) -> str:
    word = COMMANDS.get(action, action)
    return f"{word} {application_id}" if application_id is not None else word


def _markdown_body(card: dict[str, Any]) -> str:
    parts = [f"### {card.get('title') or '审批'}"]
    if card.get("subtitle"):
        parts.append(str(card["subtitle"]))
    facts = _facts_markdown(card)
    if facts:
        parts.append(facts)
    return "\n\n".join(parts)


def fallback_message(card: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """(msgKey, msgParam) for a card when no template is configured."""
    application_id = card.get("application_id")
    buttons = _buttons(card)
    commands = [(b["text"], command(b["action"], application_id)) for b in buttons]
    title = str(card.get("title") or "审批")[:TITLE_MAX]
    if application_id is not None and 2 <= len(buttons) <= ACTION_CARD_BUTTONS:
        text = _markdown_body(card) + "\n\n点按钮即发送对应指令，也可直接回复" + "、".join(
            f"“{c}”" for _, c in commands[:2]) + "（驳回可带理由）。"
        param = {"title": title, "text": text}
        for index, (label, words) in enumerate(commands, start=1):
            param[f"actionTitle{index}"] = label
            param[f"actionURL{index}"] = ("dtmd://dingtalkclient/sendMessage?content="
                                         + quote(words, safe=""))
        return f"sampleActionCard{len(buttons)}", param
    lines = "\n".join(f"- {label}：回复“{words}”" for label, words in commands)
    return "sampleMarkdown", {"title": title, "text": _markdown_body(card) + "\n\n" + lines}
