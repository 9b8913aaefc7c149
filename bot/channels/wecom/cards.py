"""Approval cards as WeCom `template_card` of type `button_interaction` (doc 90236).

WeCom's limits: title ≤ 36 characters, title desc ≤ 44, source desc ≤ 20, sub title ≤ 160,
at most 6 key facts with key names ≤ 5 characters and values ≤ 30, at most 6 buttons of
≤ 10 characters with keys ≤ 1024 bytes, task_id of letters, digits and `_-@`, ≤ 128 bytes.
A fact whose name is longer than 5 characters (e.g. 外出联系电话) is not cut: it moves,
whole, into the sub title text.
"""

from __future__ import annotations

import re
from typing import Any

TITLE_MAX = 36
TITLE_DESC_MAX = 44
SOURCE_DESC_MAX = 20
SUB_TITLE_MAX = 160
FACTS_MAX = 6
KEY_NAME_MAX = 5
VALUE_MAX = 30
BUTTONS_MAX = 6
BUTTON_TEXT_MAX = 10
BUTTON_KEY_MAX_BYTES = 1024
TASK_ID = re.compile(r"[A-Za-z0-9_\-@]{1,128}")
#: what the greyed-out buttons say after a decision; WeCom does not document a limit
REPLACE_NAME_MAX = 24
#: neutral button styles (flows.messages.ButtonStyle) as WeCom's: 1 blue, 2 grey, 3 red
BUTTON_STYLES = {"primary": 1, "default": 2, "danger": 3}


class CardError(ValueError):
    """The card cannot be sent within WeCom's rules (a bug in the caller, never retried)."""


def fit(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def template_card(card: dict[str, Any]) -> dict[str, Any]:
    """The `template_card` object for a neutral card payload (flows.messages.Card)."""
    task_id = str(card.get("card_key", ""))
    if not TASK_ID.fullmatch(task_id):
        raise CardError("card_key is not a valid WeCom task_id")
    buttons = card.get("buttons") or []
    if not 1 <= len(buttons) <= BUTTONS_MAX:
        raise CardError(f"a card needs 1–{BUTTONS_MAX} buttons")
    keys = [str(b["key"]) for b in buttons]
    if len(set(keys)) != len(keys) or any(
            not k or len(k.encode()) > BUTTON_KEY_MAX_BYTES for k in keys):
        raise CardError("button keys must be unique, non-empty and ≤ 1024 bytes")
    listed: list[dict[str, str]] = []
    moved: list[str] = []
    for name, value in card.get("facts") or []:
        name, value = str(name), str(value)
        if len(name) <= KEY_NAME_MAX and len(listed) < FACTS_MAX:
            listed.append({"keyname": name, "value": fit(value, VALUE_MAX)})
        else:
            moved.append(f"{name}：{value}")
    for attachment in card.get("attachments") or []:
        # a file the approver opens from the card: WeCom media (type 2) or a link (type 1)
        name = fit(str(attachment.get("name") or "附件"), VALUE_MAX)
        if attachment.get("media_id") and len(listed) < FACTS_MAX:
            listed.append({"keyname": "附件", "value": name, "type": 2,
                           "media_id": str(attachment["media_id"])})
        elif attachment.get("url") and len(listed) < FACTS_MAX:
            listed.append({"keyname": "附件", "value": name, "type": 1,
                           "url": str(attachment["url"])})
    sub_title = "\n".join(part for part in (str(card.get("subtitle") or ""), *moved) if part)
    result: dict[str, Any] = {
        "card_type": "button_interaction",
        "source": {"desc": fit(str(card.get("source") or "网上办事大厅"), SOURCE_DESC_MAX),
                   "desc_color": 0},
        "main_title": {"title": fit(str(card.get("title") or "审批"), TITLE_MAX)},
        "horizontal_content_list": listed,
        "task_id": task_id,
        "button_list": [{"text": fit(str(b["text"]), BUTTON_TEXT_MAX),
                         "style": BUTTON_STYLES.get(str(b.get("style")), 1), "key": key}
                        for b, key in zip(buttons, keys, strict=True)],
    }
    if sub_title:
        result["sub_title_text"] = sub_title[:SUB_TITLE_MAX]
    return result


def decided_buttons(status: str) -> dict[str, str]:
    """The `button` update that greys the card's buttons out and shows the decision."""
    return {"replace_name": fit(status, REPLACE_NAME_MAX)}
