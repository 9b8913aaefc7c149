"""Neutral cards and choices as WeCom `template_card`s (doc 90236).

Approval cards are `button_interaction`. WeCom's limits: title ≤ 36 characters, title desc
≤ 44, source desc ≤ 20, sub title ≤ 160, at most 6 key facts with key names ≤ 5 characters and
values ≤ 30, at most 6 buttons of ≤ 10 characters with keys ≤ 1024 bytes, task_id of letters,
digits and `_-@`, ≤ 128 bytes and never used before in the app. A fact whose name is longer
than 5 characters (e.g. 外出联系电话) is not cut: it moves, whole, into the sub title text.

A question with choices (flows.messages.Choices) is a `button_interaction` card with one
button per option when there are at most 6 options of at most 10 characters, else a
`vote_interaction` card (a single-choice `checkbox` of at most 20 options, each ≤ 17
characters, and a submit button); a longer list, or a longer option, is sent as the question's
text, which names the options. Buttons and options are keyed by position (`o0`, `o1`, …): the
channel keeps the options with the card and reads a tap back into the option's words.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
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
#: a line that lists one option: "3. 年休假"
_LISTED = re.compile(r"^\d{1,2}[.、．)]\s*")
CHECKBOX_OPTIONS_MAX = 20
CHECKBOX_TEXT_MAX = 17
SUBMIT_KEY = "submit"
QUESTION_KEY = "choice"


class CardError(ValueError):
    """The card cannot be sent within WeCom's rules (a bug in the caller, never retried)."""


def fit(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def new_task_id() -> str:
    """A task_id for one card: WeCom refuses an id used before in the app, so never the
    (neutral, possibly repeated) card key itself."""
    return "c" + secrets.token_hex(12)


def template_card(card: dict[str, Any], task_id: str) -> dict[str, Any]:
    """The `template_card` object for a neutral card payload (flows.messages.Card)."""
    if not TASK_ID.fullmatch(task_id):
        raise CardError("not a valid WeCom task_id")
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


def option_key(index: int) -> str:
    return f"o{index}"


def chosen_option(options: list[str], key: str) -> str | None:
    """The option a button key or checkbox option id stands for."""
    if key.startswith("o") and key[1:].isdigit() and int(key[1:]) < len(options):
        return options[int(key[1:])]
    return None


@dataclass(frozen=True)
class ChoicesCard:
    card: dict[str, Any]
    #: the question when it is too long for the card's title and sub title: sent as a text
    #: just before the card, whose title then only asks to choose
    intro: str | None = None


def choices_layout(choices: dict[str, Any]) -> str | None:
    """`button_interaction`, `vote_interaction`, or None when the options fit neither."""
    options = _options(choices)
    if not options or any(not o for o in options):
        return None
    if len(options) <= BUTTONS_MAX and all(len(o) <= BUTTON_TEXT_MAX for o in options):
        return "button_interaction"
    if len(options) <= CHECKBOX_OPTIONS_MAX and all(
            len(o) <= CHECKBOX_TEXT_MAX for o in options):
        return "vote_interaction"
    return None


def question_fits(choices: dict[str, Any]) -> bool:
    """The question reads whole in the card: its first line as title, the rest below."""
    title, rest = _question(choices)
    return len(title) <= TITLE_MAX and len(rest) <= SUB_TITLE_MAX


def choices_card(choices: dict[str, Any], task_id: str) -> ChoicesCard | None:
    """The card for a question with choices (flows.messages.Choices), or None when its
    options fit no card (the channel sends the question's text, which names them)."""
    if not TASK_ID.fullmatch(task_id):
        raise CardError("not a valid WeCom task_id")
    layout = choices_layout(choices)
    if layout is None:
        return None
    fits = question_fits(choices)
    title, rest = _question(choices) if fits else ("请点选：", "")
    options = _options(choices)
    card: dict[str, Any] = {
        "card_type": layout,
        "source": {"desc": fit(str(choices.get("source") or "网上办事大厅"), SOURCE_DESC_MAX),
                   "desc_color": 0},
        "main_title": {"title": title or "请点选："},
        "task_id": task_id,
    }
    if rest:
        card["sub_title_text"] = rest
    if layout == "button_interaction":
        card["button_list"] = [{"text": option, "style": BUTTON_STYLES["default"],
                                "key": option_key(index)}
                               for index, option in enumerate(options)]
    else:
        card["checkbox"] = {"question_key": QUESTION_KEY, "mode": 0, "option_list": [
            {"id": option_key(index), "text": option, "is_checked": False}
            for index, option in enumerate(options)]}
        card["submit_button"] = {"text": "提交", "key": SUBMIT_KEY}
    return ChoicesCard(card, intro=None if fits else str(choices.get("text", "")).strip())


def _options(choices: dict[str, Any]) -> list[str]:
    return [" ".join(str(o).split()) for o in choices.get("options") or []]


def _question(choices: dict[str, Any]) -> tuple[str, str]:
    """(title, the rest) of the question, without the lines that only list the options (for
    channels without buttons): on the card they are the buttons."""
    options = set(_options(choices))
    lines = [line.strip() for line in str(choices.get("text", "")).splitlines() if line.strip()]
    lines = [line for line in lines if _LISTED.sub("", line) not in options]
    return (lines[0], "\n".join(lines[1:])) if lines else ("", "")


def decided_buttons(status: str) -> dict[str, str]:
    """The `button` update that greys the card's buttons out and shows the decision."""
    return {"replace_name": fit(status, REPLACE_NAME_MAX)}
