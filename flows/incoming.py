"""What arrives from a channel, in a platform-neutral form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from flows.answers import Attachment

Kind = Literal["text", "tap", "file", "event", "unsupported"]
#: the user opened the chat with the bot (a platform-neutral `Incoming.event`; channels map
#: their own events, e.g. WeCom's enter_agent, to it)
OPENED = "opened"


@dataclass(frozen=True)
class Incoming:
    channel: str
    user_id: str
    kind: Kind
    text: str = ""
    card_key: str = ""
    action: str = ""
    event: str = ""
    attachment: Attachment | None = None
    dedupe_key: str = ""

    def payload(self) -> dict[str, Any]:
        """As stored with the event (JSON); shallow, since `asdict` cost a callback 10 µs."""
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        if self.attachment is not None:
            data["attachment"] = asdict(self.attachment)
        return data

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Incoming:
        data = dict(payload)
        if data.get("attachment"):
            data["attachment"] = Attachment(**data["attachment"])
        return cls(**data)

    def storable(self) -> Incoming:
        """The same event without NUL characters: a user can type or paste one, and
        PostgreSQL cannot store it in text or JSON (the event, then the answer in the form)."""
        def clean(item: Any) -> dict[str, Any]:
            return {f.name: getattr(item, f.name).replace("\x00", "")
                    for f in fields(item) if "\x00" in str(getattr(item, f.name) or "")
                    and isinstance(getattr(item, f.name), str)}
        changes: dict[str, Any] = clean(self)
        if self.attachment is not None and clean(self.attachment):
            changes["attachment"] = replace(self.attachment, **clean(self.attachment))
        return replace(self, **changes) if changes else self

    def describe(self) -> str:
        """For logs: never the text itself (it may be personal), only its shape."""
        detail = {"tap": f"card={self.card_key} action={self.action}",
                  "event": f"event={self.event}"}.get(self.kind, f"{len(self.text)} chars")
        return f"{self.channel}/{self.kind} {detail}"


_FIELD_NAMES = tuple(field.name for field in fields(Incoming))
