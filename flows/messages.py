"""Platform-neutral outgoing messages; channel adapters render them for WeCom, DingTalk or the
simulator. Each is stored in the outbox as its `payload()` dict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: how a button looks, in platform-neutral terms; each channel maps it to its own styles
ButtonStyle = Literal["primary", "default", "danger"]


@dataclass(frozen=True)
class Text:
    text: str

    def payload(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True)
class Button:
    key: str
    text: str
    style: ButtonStyle = "primary"


@dataclass(frozen=True)
class Card:
    """An interactive card (approval, handling, acknowledgement) with buttons."""

    card_key: str
    title: str
    subtitle: str
    facts: tuple[tuple[str, str], ...]
    buttons: tuple[Button, ...]
    source: str = "网上办事大厅"
    application_id: int | None = None
    #: files the approver can open from the card: {"name", "url", "media_id"} (WeCom media)
    attachments: tuple[dict[str, str], ...] = ()

    def payload(self) -> dict[str, Any]:
        return {
            "type": "card", "card_key": self.card_key, "title": self.title,
            "subtitle": self.subtitle, "facts": [list(f) for f in self.facts],
            "buttons": [{"key": b.key, "text": b.text, "style": b.style} for b in self.buttons],
            "source": self.source, "application_id": self.application_id,
            "attachments": [dict(a) for a in self.attachments],
        }


#: what happened to a card, in neutral terms, so channels can colour it (已驳回 ≠ 已同意)
Outcome = Literal["approved", "rejected", "transferred", "withdrawn", "returned", "added",
                  "closed", "waiting", ""]


@dataclass(frozen=True)
class CardUpdate:
    """Show a decided card's final state to everyone who received a card of the same group.

    `status` is the words on the card (已驳回（李院长 11-26 09:12）); `outcome` says what it was
    in neutral terms; `reason` is a rejection's or return's reason, shown apart from the status.
    """

    card_key: str
    status: str
    recipients: tuple[str, ...] = field(default=())
    outcome: Outcome = ""
    reason: str = ""

    def payload(self) -> dict[str, Any]:
        return {"type": "card_update", "card_key": self.card_key, "status": self.status,
                "recipients": list(self.recipients), "outcome": self.outcome,
                "reason": self.reason}


@dataclass(frozen=True)
class Image:
    """A picture produced on demand, e.g. the flowchart of a flow (`flowchart:<flow id>`)."""

    source: str
    caption: str = ""

    def payload(self) -> dict[str, Any]:
        return {"type": "image", "source": self.source, "caption": self.caption}


@dataclass(frozen=True)
class Choices:
    """A question whose answer can be tapped: its text, then one button per option.

    Typing an option still works. A tap comes back as `Incoming(kind="text", text=<option>,
    card_key=<key>)`, so it takes the same path as typed text; the key tells the dialog which
    question was answered, so a tap on a question that is no longer current is not stored
    under another one. Channels without buttons show `text` alone (it names the options).
    """

    text: str
    options: tuple[str, ...]
    key: str

    def payload(self) -> dict[str, Any]:
        return {"type": "choices", "text": self.text, "options": list(self.options),
                "key": self.key}


Message = Text | Card | CardUpdate | Image | Choices
