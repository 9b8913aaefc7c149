"""Platform-neutral outgoing messages; channel adapters render them for WeCom, DingTalk or the
simulator. Each is stored in the outbox as its `payload()` dict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Text:
    text: str

    def payload(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True)
class Button:
    key: str
    text: str
    style: int = 1


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

    def payload(self) -> dict[str, Any]:
        return {
            "type": "card", "card_key": self.card_key, "title": self.title,
            "subtitle": self.subtitle, "facts": [list(f) for f in self.facts],
            "buttons": [{"key": b.key, "text": b.text, "style": b.style} for b in self.buttons],
            "source": self.source, "application_id": self.application_id,
        }


@dataclass(frozen=True)
class CardUpdate:
    """Show a decided card's final state to everyone who received a card of the same group."""

    card_key: str
    status: str
    recipients: tuple[str, ...] = field(default=())

    def payload(self) -> dict[str, Any]:
        return {"type": "card_update", "card_key": self.card_key, "status": self.status,
                "recipients": list(self.recipients)}


@dataclass(frozen=True)
class Image:
    """A picture produced on demand, e.g. the flowchart of a flow (`flowchart:<flow id>`)."""

    source: str
    caption: str = ""

    def payload(self) -> dict[str, Any]:
        return {"type": "image", "source": self.source, "caption": self.caption}


Message = Text | Card | CardUpdate | Image
